"""A portal's report for a range: the ledger's aggregates (``queries``) put together, the
liability carried from the opening balance through every day or month, and the customers'
levels computed now the way the cabinet shows them (``domain.levels``)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.domain.deal import CustomerHistory
from kopilka.domain.levels import metric_of, period_start, status_for
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
    active, redeeming = await queries.activity(conn, book.program_id, span)
    soon = await queries.expiring(conn, book.program_id, now, HORIZONS)
    return Report(
        range=span,
        now=now,
        opening=moved.opening,
        flows=flows,
        outstanding=outstanding,
        expiring=[Expiring(d, *soon[d]) for d in HORIZONS],
        active=active,
        redeeming=redeeming,
        levels=await level_distribution(conn, book, program, now),
        top_accrued=_people(await queries.top_accrued(conn, book.program_id, span, TOP)),
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
    """How many customers are at each level now (None: the program has no levels). Every
    customer's won deals and purchases are read in one statement and put through the same
    ``status_for`` as the cabinet's level display; customers with no purchase count too."""
    levels = program.levels
    if levels is None:
        return None
    since = period_start(levels, now, program.tz)
    bought = await queries.purchases(conn, book.portal_id, since)
    everyone = await queries.customer_count(conn, book.portal_id)
    counts: Counter[str | None] = Counter()
    for rows in bought.values():
        history = CustomerHistory(
            won_deals=sum(n for _, n, _ in rows),
            purchases_total=sum(s for _, _, s in rows),
            won_deals_by_pipeline=_by_pipeline(rows, 1),
            purchases_by_pipeline=_by_pipeline(rows, 2),
        )
        counts[status_for(levels, metric_of(program, levels, history)).level_id] += 1
    nobody = CustomerHistory(0, 0, {}, {})
    counts[status_for(levels, metric_of(program, levels, nobody)).level_id] += everyone - len(
        bought
    )
    below = [LevelCount(None, "", counts[None])] if counts[None] else []
    return below + [LevelCount(t.id, t.title, counts[t.id]) for t in levels.tiers]


def _by_pipeline(rows: list[tuple[int, int, int]], column: int) -> dict[int, int]:
    out: dict[int, int] = {}
    for row in rows:
        out[row[0]] = out.get(row[0], 0) + row[column]
    return out
