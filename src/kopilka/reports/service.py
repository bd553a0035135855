"""A portal's report for a range: the ledger's aggregates (``queries``) put together, the
liability carried from the opening balance through every day or month, and the customers'
levels computed now the way the cabinet shows them (``domain.levels``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.domain.levels import period_start, status_for, threshold
from kopilka.ledger.types import Book
from kopilka.program.model import Program
from kopilka.reports import queries
from kopilka.reports.schemas import (
    HORIZONS,
    Expiring,
    Flow,
    LevelCount,
    ManualGrants,
    Outstanding,
    Range,
    Report,
    TopCustomer,
)

TOP = 10


async def build_report(
    conn: AsyncConnection, book: Book, program: Program, span: Range, now: datetime
) -> Report:
    moved = await queries.movements(conn, book.program_id, span)
    flows, outstanding, running = [], [], moved.opening
    for start in span.buckets():
        flows.append(moved.flows.get(start, Flow(start)))
        running += moved.changes.get(start, 0)
        outstanding.append(Outstanding(span.bucket_end(start), running))
    soon = await queries.expiring(conn, book.program_id, now, HORIZONS)
    return Report(
        range=span,
        now=now,
        opening=moved.opening,
        flows=flows,
        outstanding=outstanding,
        expiring=[Expiring(d, *soon[d]) for d in HORIZONS],
        active=moved.active,
        redeeming=moved.redeeming,
        levels=await level_distribution(conn, book, program, now),
        top_accrued=await _top_earners(conn, moved.earned),
        top_balance=_people(await queries.top_balance(conn, book.program_id, TOP)),
        manual=[
            ManualGrants(
                r.actor,
                r.reason,
                _bonus_title(program, r.reason),
                int(r.grants),
                int(r.points),
                int(r.reversed),
            )
            for r in await queries.manual_grants(conn, book.program_id, span)
        ],
    )


async def _top_earners(conn: AsyncConnection, earned: dict[int, int]) -> list[TopCustomer]:
    top = sorted(earned.items(), key=lambda item: (-item[1], item[0]))[:TOP]
    found = await queries.names(conn, [c for c, _ in top])
    return [TopCustomer(c, found[c].name, found[c].external_id, points) for c, points in top]


def _people(rows: list[object]) -> list[TopCustomer]:
    return [
        TopCustomer(int(r.id), r.name, r.external_id, int(r.points))  # type: ignore[attr-defined]
        for r in rows
    ]


def _bonus_title(program: Program, reason: str) -> str:
    bonus = program.manual_bonuses.get(reason)
    return bonus.title if bonus is not None else reason


async def level_distribution(
    conn: AsyncConnection, book: Book, program: Program, now: datetime
) -> list[LevelCount] | None:
    """How many customers are at each level now (None: the program has no levels), by the
    cabinet's rule (``domain.levels``: a tier from its threshold up to the next one, the metric
    counted in the levels' pipelines and period), counted by the database in one statement;
    customers with no purchase are at the level an empty history gives."""
    levels = program.levels
    if levels is None:
        return None
    starts = [threshold(levels.basis, t.from_) for t in levels.tiers]
    pipelines = program.pipeline_ids(levels.pipelines)
    counts = await queries.level_counts(
        conn,
        book.portal_id,
        basis=levels.basis,
        starts=starts,
        pipelines=None if pipelines is None else sorted(pipelines),
        since=period_start(levels, now, program.tz),
    )
    nobody = status_for(levels, 0).level_id
    empty = next((i + 1 for i, t in enumerate(levels.tiers) if t.id == nobody), 0)
    everyone = await queries.customer_count(conn, book.portal_id)
    counts[empty] = counts.get(empty, 0) + everyone - sum(counts.values())
    below = [LevelCount(None, "", counts[0])] if counts.get(0) else []
    return below + [
        LevelCount(t.id, t.title, counts.get(i + 1, 0)) for i, t in enumerate(levels.tiers)
    ]
