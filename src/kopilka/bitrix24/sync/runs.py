"""The record of each sync run (``b24_sync_runs``), deals parked (the ledger refused them, the
portal would not show them), the last sync, and what was learnt of the portal's reading of
product-row filters."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.db.tables import b24_dirty_deals, b24_sync_runs, b24_sync_state


@dataclass
class SyncReport:
    deals: int = 0
    posted: int = 0
    failed: list[int] = field(default_factory=list)
    writes: int = 0


async def start_run(conn: AsyncConnection, portal_id: int) -> int:
    worker = f"{socket.gethostname()}:{os.getpid()}"
    run_id = await conn.scalar(
        insert(b24_sync_runs)
        .values(portal_id=portal_id, worker=worker)
        .returning(b24_sync_runs.c.id)
    )
    assert run_id is not None
    return int(run_id)


async def finish_run(conn: AsyncConnection, run_id: int, report: SyncReport) -> None:
    await conn.execute(
        update(b24_sync_runs)
        .where(b24_sync_runs.c.id == run_id)
        .values(
            finished_at=func.clock_timestamp(),
            deals=report.deals,
            postings=report.posted,
            failed=len(report.failed),
        )
    )


#: a parked deal waits ``PARK_FIRST`` × 2^(attempts before) seconds, at most ``PARK_MAX``
PARK_FIRST = 15.0
PARK_MAX = 3600.0


async def note_failure(
    conn: AsyncConnection,
    portal_id: int,
    deal_id: int,
    exc: Exception | str,
    *,
    version: int | None = None,
) -> None:
    """Park a deal that could not be settled (the ledger refused it, the portal would not show
    it): its reason kept, its next try later and later; a newer hint (``version`` moved on)
    leaves it alone, and news about it clears the wait (:func:`~.hints.mark_dirty`)."""
    wait = func.least(
        PARK_MAX, PARK_FIRST * func.power(2, func.least(b24_dirty_deals.c.attempts, 20))
    )
    query = update(b24_dirty_deals).where(
        b24_dirty_deals.c.portal_id == portal_id, b24_dirty_deals.c.deal_id == deal_id
    )
    if version is not None:
        query = query.where(b24_dirty_deals.c.version == version)
    await conn.execute(
        query.values(
            attempts=b24_dirty_deals.c.attempts + 1,
            last_error=str(exc)[:500],
            retry_at=func.now() + func.make_interval(0, 0, 0, 0, 0, 0, wait),
        )
    )


async def touch(conn: AsyncConnection, portal_id: int) -> None:
    stmt = insert(b24_sync_state).values(portal_id=portal_id, last_sync_at=func.now())
    await conn.execute(
        stmt.on_conflict_do_update(index_elements=["portal_id"], set_={"last_sync_at": func.now()})
    )


async def rows_per_deal(conn: AsyncConnection, portal_id: int) -> bool:
    """Whether the portal refuses a list of owners in ``crm.item.productrow.list``."""
    learnt = await conn.scalar(
        select(b24_sync_state.c.rows_per_deal_at).where(b24_sync_state.c.portal_id == portal_id)
    )
    return learnt is not None


async def remember_rows_per_deal(conn: AsyncConnection, portal_id: int) -> None:
    stmt = insert(b24_sync_state).values(portal_id=portal_id, rows_per_deal_at=func.now())
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["portal_id"],
            set_={"rows_per_deal_at": func.coalesce(b24_sync_state.c.rows_per_deal_at, func.now())},
        )
    )
