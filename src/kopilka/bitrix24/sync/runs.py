"""The record of each sync run (``b24_sync_runs``), deals the ledger refused, the last sync."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field

from sqlalchemy import func, update
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


async def note_failure(conn: AsyncConnection, portal_id: int, deal_id: int, exc: Exception) -> None:
    await conn.execute(
        update(b24_dirty_deals)
        .where(b24_dirty_deals.c.portal_id == portal_id, b24_dirty_deals.c.deal_id == deal_id)
        .values(attempts=b24_dirty_deals.c.attempts + 1, last_error=str(exc)[:500])
    )


async def touch(conn: AsyncConnection, portal_id: int) -> None:
    stmt = insert(b24_sync_state).values(portal_id=portal_id, last_sync_at=func.now())
    await conn.execute(
        stmt.on_conflict_do_update(index_elements=["portal_id"], set_={"last_sync_at": func.now()})
    )
