"""What the reports are made of: a date range in the program's time zone and the figures read
from the ledger for it. Amounts are integer kopecks of points (a point is worth one rouble:
``docs/program-file.md``), so a liability in roubles is the same number of kopecks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Unit = Literal["day", "month"]
#: a range up to this many days is drawn day by day, a longer one month by month
DAILY_UP_TO = 62
#: the longest range a report covers (ten years)
LONGEST = 3653
#: the horizons of the "expiring soon" report, in days
HORIZONS = (30, 60, 90)


class BadRange(ValueError):
    """A range a person typed that cannot be reported (the message says why)."""


@dataclass(frozen=True, slots=True)
class Range:
    """The days ``first`` to ``last`` (both included) in the program's time zone."""

    first: date
    last: date
    tz: ZoneInfo

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise BadRange("the range ends before it starts")
        if (self.last - self.first).days >= LONGEST:
            raise BadRange(f"the range is longer than {LONGEST} days")

    @property
    def since(self) -> datetime:
        return datetime.combine(self.first, time(), self.tz)

    @property
    def until(self) -> datetime:
        """The first moment after the range."""
        return datetime.combine(self.last + timedelta(days=1), time(), self.tz)

    @property
    def unit(self) -> Unit:
        return "day" if (self.last - self.first).days < DAILY_UP_TO else "month"

    def buckets(self) -> list[date]:
        """The first day of every day or month the range touches."""
        if self.unit == "day":
            days = (self.last - self.first).days + 1
            return [self.first + timedelta(days=i) for i in range(days)]
        out, month = [], self.first.replace(day=1)
        while month <= self.last:
            out.append(month)
            month = (month + timedelta(days=32)).replace(day=1)
        return out

    def bucket_end(self, start: date) -> date:
        """The last day of a bucket, within the range."""
        if self.unit == "day":
            return start
        return min(self.last, (start + timedelta(days=32)).replace(day=1) - timedelta(days=1))


@dataclass(frozen=True, slots=True)
class Flow:
    """Points that moved in one day or month (see docs/reports.md for each figure)."""

    bucket: date
    accrued: int = 0
    reversed: int = 0
    redeemed: int = 0
    expired: int = 0

    @property
    def net(self) -> int:
        """The change of the liability: what was accrued less what left it."""
        return self.accrued - self.reversed - self.redeemed - self.expired


@dataclass(frozen=True, slots=True)
class Outstanding:
    """The liability (points owed to customers, held ones included) at the end of a day."""

    at: date
    points: int


@dataclass(frozen=True, slots=True)
class Expiring:
    days: int
    points: int
    customers: int


@dataclass(frozen=True, slots=True)
class LevelCount:
    level_id: str | None  # None: customers below the first level
    title: str
    customers: int


@dataclass(frozen=True, slots=True)
class TopCustomer:
    customer_id: int
    name: str
    external_id: str
    points: int


@dataclass(frozen=True, slots=True)
class ManualGrants:
    actor: str
    reason: str  # the manual bonus's id in the program
    title: str  # its title, or the id when the program no longer has it
    grants: int
    points: int
    reversed: int  # points of those grants taken back since


@dataclass(frozen=True, slots=True)
class Report:
    range: Range
    now: datetime
    opening: int  # the liability when the range starts
    flows: list[Flow]
    outstanding: list[Outstanding]
    expiring: list[Expiring]
    active: int
    redeeming: int
    levels: list[LevelCount] | None  # None: the program has no levels
    top_accrued: list[TopCustomer]
    top_balance: list[TopCustomer]
    manual: list[ManualGrants]
    totals: Flow = field(init=False)

    def __post_init__(self) -> None:
        total = Flow(
            self.range.first,
            sum(f.accrued for f in self.flows),
            sum(f.reversed for f in self.flows),
            sum(f.redeemed for f in self.flows),
            sum(f.expired for f in self.flows),
        )
        object.__setattr__(self, "totals", total)

    @property
    def closing(self) -> int:
        return self.outstanding[-1].points if self.outstanding else self.opening

    @property
    def breakage(self) -> float | None:
        """Expired / (expired + redeemed) over the range; None when no point left either way."""
        settled = self.totals.expired + self.totals.redeemed
        return self.totals.expired / settled if settled > 0 else None
