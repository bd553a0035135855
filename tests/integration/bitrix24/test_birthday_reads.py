"""Issue 15, item 8: the birthday window reads the contacts whose birthday is near (filtered
reads on BIRTHDATE, and the ticked boxes), not every contact of the portal."""

from __future__ import annotations

from datetime import date

from kopilka.bitrix24.daily import window_ranges
from kopilka.domain.birthday import in_birthday_window
from tests.integration.bitrix24.test_daily import FLAG, flagged, h, person, tick

__all__ = ["h"]  # the fixture


def test_the_ranges_hold_every_birth_date_of_the_window() -> None:
    for today in (date(2027, 3, 14), date(2026, 12, 30), date(2027, 2, 25), date(2028, 3, 3)):
        ranges = window_ranges(today, 7, 7, oldest=60)
        day = date(today.year - 60, 1, 1)
        while day <= today:
            inside = in_birthday_window(day, today, 7, 7)
            found = any(lo <= day <= hi for lo, hi in ranges)
            assert not inside or found, (today, day)
            day = date.fromordinal(day.toordinal() + 1)
        assert len(ranges) <= 2 * 61  # one range a birth year, two across the new year
        assert sum((hi - lo).days + 1 for lo, hi in ranges) <= 61 * 18  # 15 days and margins


async def test_only_near_birthdays_and_ticked_boxes_are_read(h) -> None:  # type: ignore[no-untyped-def]
    near = person(h, "Именинница", "1985-03-16")
    far = [person(h, f"Клиент {n}", f"19{50 + n % 40}-0{1 + n % 2}-1{n % 9}") for n in range(120)]
    unknown = [person(h, f"Без даты {n}", None) for n in range(60)]
    ticked = person(h, "Отмеченный", "1970-08-01")
    h.call("crm.contact.update", {"id": ticked, "fields": {FLAG: 1}})
    report = await tick(h, "2027-03-14T12:00:00+03:00")
    assert (report["birthdays_on"], report["birthdays_off"]) == (1, 1)
    assert flagged(h, near, ticked) == [True, False]
    # the near birthday and the ticked box: 2 contacts read, not 183
    assert report["contacts_read"] == 2, report
    assert len(far) == 120
    assert len(unknown) == 60
