"""The birthday window: from ``days_before`` days before the birthday to ``days_after`` after.

29 February birthdays are celebrated on 28 February in common years (the customer is still in
February, and a window "a week before" then starts on the same day every year). Windows that
cross the new year are handled by looking at last year's, this year's and next year's birthday.
"""

from __future__ import annotations

from datetime import date, timedelta


def birthday_in(year: int, birthdate: date) -> date:
    """The day the birthday is celebrated in ``year``."""
    if birthdate.month == 2 and birthdate.day == 29:
        try:
            return date(year, 2, 29)
        except ValueError:
            return date(year, 2, 28)
    return birthdate.replace(year=year)


def in_birthday_window(birthdate: date, today: date, days_before: int, days_after: int) -> bool:
    """True when ``today`` (a local date in the program's time zone) is inside the window."""
    for year in (today.year - 1, today.year, today.year + 1):
        day = birthday_in(year, birthdate)
        if day - timedelta(days=days_before) <= today <= day + timedelta(days=days_after):
            return True
    return False


def next_birthday(birthdate: date, today: date) -> date:
    """The next celebration on or after ``today``."""
    day = birthday_in(today.year, birthdate)
    return day if day >= today else birthday_in(today.year + 1, birthdate)
