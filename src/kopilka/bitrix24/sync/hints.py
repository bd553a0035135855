"""The dirty set: hints that a deal may have changed (events, the sweep, a backfill), how many
wait, the claim of the next chunk after a burst has gathered, and the deals parked in it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.db.tables import b24_dirty_deals

GATHER_QUIET = 0.5  # seconds without a new hint: the burst is over
GATHER_MAX = 3.0  # seconds a round waits for a burst at most

_MARK_DIRTY = text("""
INSERT INTO b24_dirty_deals (portal_id, deal_id, source)
SELECT :portal_id, unnest(CAST(:deal_ids AS bigint[])), :source
ON CONFLICT (portal_id, deal_id) DO UPDATE SET
    version = b24_dirty_deals.version + 1,
    source = EXCLUDED.source,
    hinted_at = now(),
    last_error = NULL,  -- news about the deal: it is worth another try, now
    retry_at = NULL
""")  # built once: the events endpoint runs it for every event


async def mark_dirty(
    conn: AsyncConnection, portal_id: int, deal_ids: Sequence[int], source: str
) -> None:
    """Record hints. A newer hint for a deal being synced bumps its version, so it is not lost."""
    ids = sorted({int(d) for d in deal_ids if int(d) > 0})
    if ids:
        await conn.execute(_MARK_DIRTY, {"portal_id": portal_id, "deal_ids": ids, "source": source})


_OPEN_DEALS_OF = text("""
SELECT deal_id FROM b24_deals
WHERE portal_id = :portal_id AND semantic = 'P' AND contact_ids && CAST(:contact_ids AS bigint[])
""")


async def mark_open_deals_of(
    conn: AsyncConnection, portal_id: int, contact_ids: Sequence[int], source: str
) -> int:
    """Hint the open deals of these contacts (a contact's type or fields changed: its open
    deals are judged again — segments, offers, the most it may pay). Returns how many."""
    ids = sorted({int(c) for c in contact_ids if int(c) > 0})
    if not ids:
        return 0
    found = await conn.execute(_OPEN_DEALS_OF, {"portal_id": portal_id, "contact_ids": ids})
    deals = [int(r.deal_id) for r in found]
    await mark_dirty(conn, portal_id, deals, source)
    return len(deals)


async def dirty_count(conn: AsyncConnection, portal_id: int, *, parked: bool = True) -> int:
    """Deals waiting for a sync; ``parked=False`` leaves out those the ledger refused last
    time (they wait for news: a new hint)."""
    query = (
        select(func.count())
        .select_from(b24_dirty_deals)
        .where(b24_dirty_deals.c.portal_id == portal_id)
    )
    if not parked:
        query = query.where(b24_dirty_deals.c.last_error.is_(None))
    return int(await conn.scalar(query) or 0)


async def gather(engine: AsyncEngine, portal_id: int, chunk: int) -> None:
    """Let a burst of hints gather before reading (bigger rounds, fewer requests): wait while
    hints are still arriving, up to GATHER_MAX seconds, unless a full chunk is already there."""
    deadline = time.monotonic() + GATHER_MAX
    while time.monotonic() < deadline:
        async with engine.connect() as conn:
            waiting, quiet = (
                await conn.execute(
                    select(
                        func.count(),
                        func.extract("epoch", func.now() - func.max(b24_dirty_deals.c.hinted_at)),
                    ).where(b24_dirty_deals.c.portal_id == portal_id)
                )
            ).one()
        if not waiting or waiting >= chunk or float(quiet or 0) >= GATHER_QUIET:
            return
        await asyncio.sleep(0.1)


async def claim(engine: AsyncEngine, portal_id: int, chunk: int, skip: set[int]) -> dict[int, int]:
    """The next ``chunk`` dirty deals, oldest hint first, with the version each was seen at;
    a parked deal (:func:`~kopilka.bitrix24.sync.runs.note_failure`) once its time has come."""
    now = func.now()
    async with engine.connect() as conn:
        return {
            int(r.deal_id): int(r.version)
            for r in await conn.execute(
                select(b24_dirty_deals.c.deal_id, b24_dirty_deals.c.version)
                .where(
                    b24_dirty_deals.c.portal_id == portal_id,
                    b24_dirty_deals.c.deal_id.not_in(skip or [0]),
                    or_(b24_dirty_deals.c.retry_at.is_(None), b24_dirty_deals.c.retry_at <= now),
                )
                .order_by(b24_dirty_deals.c.hinted_at, b24_dirty_deals.c.deal_id)
                .limit(chunk)
            )
        }


@dataclass(frozen=True)
class Parked:
    """A deal that could not be settled: why, how many times, when it is tried next."""

    deal_id: int
    attempts: int
    reason: str
    retry_at: datetime | None


async def parked_deals(conn: AsyncConnection, portal_id: int, limit: int = 100) -> list[Parked]:
    """The portal's parked deals, the longest-failing first."""
    d = b24_dirty_deals.c
    rows = await conn.execute(
        select(d.deal_id, d.attempts, d.last_error, d.retry_at)
        .where(d.portal_id == portal_id, d.last_error.is_not(None))
        .order_by(d.attempts.desc(), d.deal_id)
        .limit(limit)
    )
    return [Parked(int(r.deal_id), int(r.attempts), str(r.last_error), r.retry_at) for r in rows]
