"""Quiet hours: no SMS to a customer at night (program time zone)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


def quiet_until(now: datetime, tz: ZoneInfo, hours: tuple[int, int] | None) -> datetime | None:
    """When ``now`` falls inside the quiet window ``(start, end)`` (minutes of the local day; the
    window may cross midnight), the moment it ends; else None."""
    if hours is None or hours[0] == hours[1]:
        return None
    start, end = hours
    local = now.astimezone(tz)
    minute = local.hour * 60 + local.minute
    inside = start <= minute < end if start < end else (minute >= start or minute < end)
    if not inside:
        return None
    day = local.date()
    if start > end and minute >= start:  # evening part of a window crossing midnight
        day += timedelta(days=1)
    wall = datetime.combine(day, time(end // 60, end % 60))
    return wall.replace(tzinfo=tz)
