"""Every expiry kind, in the program's time zone; aware datetimes only."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kopilka.domain.expiry import available_at, expires_at
from kopilka.program.policies import Expiry

MOSCOW = ZoneInfo("Europe/Moscow")


def test_never() -> None:
    assert expires_at(Expiry(after="never"), datetime(2025, 5, 1, tzinfo=UTC), MOSCOW) is None


def test_after_days() -> None:
    earned = datetime(2025, 5, 1, 10, 30, tzinfo=UTC)
    assert expires_at(Expiry(after_days=30), earned, MOSCOW) == earned + timedelta(days=30)


def test_end_of_year_is_midnight_moscow_which_is_21_utc() -> None:
    earned = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
    expiry = expires_at(Expiry(at="end_of_year"), earned, MOSCOW)
    assert expiry == datetime(2025, 12, 31, 21, 0, tzinfo=UTC)
    assert expiry is not None
    assert expiry.astimezone(MOSCOW).isoformat() == "2026-01-01T00:00:00+03:00"


def test_end_of_year_uses_the_local_year() -> None:
    # 31 Dec 22:00 UTC is already 1 January in Moscow: the points live through 2026.
    earned = datetime(2025, 12, 31, 22, 0, tzinfo=UTC)
    assert expires_at(Expiry(at="end_of_year"), earned, MOSCOW) == datetime(
        2026, 12, 31, 21, 0, tzinfo=UTC
    )


def test_end_of_month() -> None:
    assert expires_at(
        Expiry(at="end_of_month"), datetime(2025, 12, 5, tzinfo=UTC), MOSCOW
    ) == datetime(2026, 1, 1, tzinfo=MOSCOW)
    assert expires_at(
        Expiry(at="end_of_month"), datetime(2025, 2, 5, tzinfo=UTC), MOSCOW
    ) == datetime(2025, 3, 1, tzinfo=MOSCOW)


@pytest.mark.parametrize(
    ("earned", "expected"),
    [
        (datetime(2025, 3, 1, tzinfo=MOSCOW), datetime(2025, 7, 1, tzinfo=MOSCOW)),
        (datetime(2025, 7, 1, tzinfo=MOSCOW), datetime(2026, 1, 1, tzinfo=MOSCOW)),
        (datetime(2025, 12, 31, 23, 59, tzinfo=MOSCOW), datetime(2026, 1, 1, tzinfo=MOSCOW)),
    ],
)
def test_at_dates(earned: datetime, expected: datetime) -> None:
    assert expires_at(Expiry(at_dates=["07-01", "01-01"]), earned, MOSCOW) == expected


def test_at_29_february_waits_for_a_leap_year() -> None:
    earned = datetime(2025, 3, 1, tzinfo=MOSCOW)
    assert expires_at(Expiry(at_dates=["02-29"]), earned, MOSCOW) == datetime(
        2028, 2, 29, tzinfo=MOSCOW
    )


def test_available_at_adds_pending_days() -> None:
    earned = datetime(2025, 5, 1, 10, tzinfo=UTC)
    assert available_at(0, earned) == earned
    assert available_at(14, earned) == earned + timedelta(days=14)


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2025, 5, 1)  # noqa: DTZ001
    with pytest.raises(ValueError, match="timezone-aware"):
        expires_at(Expiry(at="end_of_year"), naive, MOSCOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        available_at(1, naive)
