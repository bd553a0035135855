"""The birthday window: ±7 days, across the new year, and 29 February in common years."""

from datetime import date

import pytest

from kopilka.domain.birthday import birthday_in, in_birthday_window, next_birthday


@pytest.mark.parametrize(
    ("today", "inside"),
    [
        (date(2025, 6, 3), True),
        (date(2025, 6, 2), False),
        (date(2025, 6, 17), True),
        (date(2025, 6, 18), False),
        (date(2025, 6, 10), True),
    ],
)
def test_seven_days_each_side(today: date, inside: bool) -> None:
    assert in_birthday_window(date(1980, 6, 10), today, 7, 7) is inside


@pytest.mark.parametrize(
    ("birthdate", "today", "inside"),
    [
        (date(1990, 1, 3), date(2024, 12, 28), True),  # window opens in the old year
        (date(1990, 12, 29), date(2025, 1, 4), True),  # and closes in the new one
        (date(1990, 12, 29), date(2025, 1, 6), False),
        (date(1990, 1, 3), date(2024, 12, 26), False),
    ],
)
def test_window_across_the_new_year(birthdate: date, today: date, inside: bool) -> None:
    assert in_birthday_window(birthdate, today, 7, 7) is inside


def test_29_february_is_celebrated_on_28_february_in_common_years() -> None:
    leap = date(2000, 2, 29)
    assert birthday_in(2025, leap) == date(2025, 2, 28)
    assert birthday_in(2028, leap) == date(2028, 2, 29)
    assert in_birthday_window(leap, date(2025, 2, 21), 7, 7)
    assert not in_birthday_window(leap, date(2025, 2, 20), 7, 7)
    assert in_birthday_window(leap, date(2025, 3, 7), 7, 7)
    assert not in_birthday_window(leap, date(2025, 3, 8), 7, 7)
    assert in_birthday_window(leap, date(2025, 2, 28), 0, 0)


def test_next_birthday() -> None:
    assert next_birthday(date(1980, 6, 10), date(2025, 6, 10)) == date(2025, 6, 10)
    assert next_birthday(date(1980, 6, 10), date(2025, 6, 11)) == date(2026, 6, 10)
