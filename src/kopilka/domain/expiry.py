"""When earned points become available and when they expire, in the program's time zone.

Calendar expiries (end of month, end of year, fixed dates) fall at 00:00 local time of the next
boundary: points earned during 2025 with ``at: end_of_year`` in Europe/Moscow expire at
2026-01-01 00:00 MSK, which is 2025-12-31 21:00 UTC.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo

from kopilka.program.policies import Expiry


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {moment.isoformat()}")


def _midnight(day: date, tz: tzinfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz)


def expires_at(policy: Expiry, earned_at: datetime, tz: tzinfo) -> datetime | None:
    """The instant points earned at ``earned_at`` expire, or None when they never do."""
    _require_aware(earned_at, "earned_at")
    local = earned_at.astimezone(tz).date()
    if policy.after_days is not None:
        return earned_at + timedelta(days=policy.after_days)
    if policy.at == "end_of_month":
        year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
        return _midnight(date(year, month, 1), tz)
    if policy.at == "end_of_year":
        return _midnight(date(local.year + 1, 1, 1), tz)
    if policy.at_dates:
        return _midnight(_next_date(local, policy.at_dates), tz)
    return None


def available_at(pending_days: int, earned_at: datetime) -> datetime:
    """Points are spendable ``pending_days`` after they were earned (0: at once)."""
    _require_aware(earned_at, "earned_at")
    return earned_at + timedelta(days=pending_days)


def _next_date(after: date, month_days: list[str]) -> date:
    """The first listed MM-DD strictly after ``after`` (29 Feb only in leap years)."""
    candidates = []
    for year in range(after.year, after.year + 9):
        for item in month_days:
            month, day = (int(part) for part in item.split("-"))
            try:
                candidate = date(year, month, day)
            except ValueError:  # 02-29 in a common year
                continue
            if candidate > after:
                candidates.append(candidate)
    return min(candidates)
