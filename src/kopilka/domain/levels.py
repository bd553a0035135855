"""Customer levels (Silver, Gold…) by won deals or by total purchases.

``CustomerHistory`` holds the customer's numbers *before* the deal being evaluated, already limited
to the level's period (``period_start`` tells the caller from when to count). The engine adds the
current deal when it is won and the program counts it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal

from kopilka.domain.deal import CustomerHistory
from kopilka.domain.effects import LevelStatus
from kopilka.domain.money import MINOR_PER_UNIT
from kopilka.program.model import Program
from kopilka.program.rules import Levels


def threshold(levels_basis: str, start: Decimal) -> int:
    """A tier's ``from`` in the metric's unit: deals, or kopecks of purchases."""
    return int(start) if levels_basis == "won_deals" else int(start * MINOR_PER_UNIT)


def metric_of(program: Program, levels: Levels, history: CustomerHistory) -> int:
    ids = program.pipeline_ids(levels.pipelines)
    if levels.basis == "won_deals":
        if ids is None:
            return history.won_deals
        return sum(history.won_deals_by_pipeline.get(i, 0) for i in ids)
    if ids is None:
        return history.purchases_total
    return sum(history.purchases_by_pipeline.get(i, 0) for i in ids)


def current_deal_adds(program: Program, levels: Levels, pipeline_id: int, share: int) -> int:
    """What a won deal adds to the metric: one deal, or the contact's share of its sum."""
    ids = program.pipeline_ids(levels.pipelines)
    if ids is not None and pipeline_id not in ids:
        return 0
    return 1 if levels.basis == "won_deals" else share


def status_for(levels: Levels, metric: int) -> LevelStatus:
    starts = [threshold(levels.basis, t.from_) for t in levels.tiers]
    index = max((i for i, start in enumerate(starts) if metric >= start), default=None)
    following = 0 if index is None else index + 1
    nxt = levels.tiers[following] if following < len(levels.tiers) else None
    next_start = starts[following] if nxt is not None else None
    tier = levels.tiers[index] if index is not None else None
    return LevelStatus(
        level_id=tier.id if tier else None,
        title=tier.title if tier else None,
        percent=tier.percent if tier else Decimal(0),
        payable_share=tier.payable_share if tier else None,
        metric=metric,
        next_level_id=nxt.id if nxt else None,
        next_threshold=next_start,
        remaining_to_next=next_start - metric if next_start is not None else None,
    )


def period_start(levels: Levels, now: datetime, tz: tzinfo) -> datetime | None:
    """From when the history must be counted for ``levels``; None for a lifetime."""
    if levels.period.kind == "lifetime":
        return None
    local = now.astimezone(tz)
    if levels.period.kind == "calendar_year":
        return datetime(local.year, 1, 1, tzinfo=tz)
    days = levels.period.last_days or 0
    start: date = local.date() - timedelta(days=days - 1)
    return datetime(start.year, start.month, start.day, tzinfo=tz)
