"""Use cases of the connector, shared by the jobs, the CLI and the tests: sync a portal, sweep
for missed events, backfill a portal's history."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24.client import PAGE_SIZE as PAGE
from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.connections import Connection, active_connections, get_connection
from kopilka.bitrix24.deferred import defer_sync
from kopilka.bitrix24.listing import list_chained
from kopilka.bitrix24.mapping import parse_datetime
from kopilka.bitrix24.offers import Layout, changed_deals
from kopilka.bitrix24.sync import SyncReport, mark_dirty, sync_portal
from kopilka.bitrix24.sync.plan import close_order
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import b24_deals, b24_sync_state
from kopilka.process.services import Services

log = logging.getLogger("kopilka.bitrix24")

#: The sweep re-reads a little before its last mark: the portal's clock, its DATE_MODIFY
#: granularity (seconds) and transactions still committing there.
SWEEP_OVERLAP = timedelta(minutes=5)
#: A portal never swept starts with deals modified this long ago.
FIRST_SWEEP = timedelta(days=1)


async def run_sync(services: Services, portal_id: int, *, sweep: bool = False) -> SyncReport:
    async with services.engine.connect() as conn:
        connection = await get_connection(conn, portal_id)
    if connection.status != "active":
        return SyncReport()
    client = services.client_for(connection)
    if sweep:
        await sweep_portal(services, connection)
    return await sync_portal(
        services.engine,
        client,
        connection,
        now=services.now,
        comments=services.settings.b24_timeline_comments,
    )


async def sweep_portal(services: Services, connection: Connection) -> int:
    """Mark dirty every deal the portal says was modified since the last sweep."""
    client = services.client_for(connection)
    started = services.now()
    async with services.engine.connect() as conn:
        since = await conn.scalar(
            select(b24_sync_state.c.swept_through).where(
                b24_sync_state.c.portal_id == connection.portal_id
            )
        )
    since = (since or started - FIRST_SWEEP) - SWEEP_OVERLAP
    changed = await modified_since(client, since.isoformat(timespec="seconds"))
    layout = Layout.from_json(connection.field_map.get("offers_list"))
    touched = (
        await changed_deals(client, layout, since.isoformat(timespec="seconds"))
        if layout
        else set()
    )

    async def record(conn: AsyncConnection) -> int:
        known = {
            int(r.deal_id): r.modified_at
            for r in await conn.execute(
                select(b24_deals.c.deal_id, b24_deals.c.modified_at).where(
                    b24_deals.c.portal_id == connection.portal_id,
                    b24_deals.c.deal_id.in_(list(changed)),
                )
            )
        }
        stale = [d for d, m in changed.items() if d not in known or known[d] != parse_datetime(m)]
        stale += sorted(touched - set(stale))  # a manager's choices in the offers list
        await mark_dirty(conn, connection.portal_id, stale, "sweep")
        stmt = insert(b24_sync_state).values(
            portal_id=connection.portal_id, swept_through=started, last_sweep_at=started
        )
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["portal_id"],
                set_={"swept_through": started, "last_sweep_at": started},
            )
        )
        return len(stale)

    stale = await run_in_transaction(services.engine, record)
    if stale:
        log.info("sweep of portal %s found %d changed deals", connection.portal_id, stale)
    return stale


async def modified_since(client: Bitrix24Client, since: str) -> dict[int, str]:
    """Deals modified since ``since``: the first page tells the total, the other pages are read
    50 to a ``batch`` (a sweep after a burst of 1 000 deals costs 2 requests, not 21)."""
    params: dict[str, Any] = {
        "filter": {">=DATE_MODIFY": since},
        "select": ["ID", "DATE_MODIFY"],
        "order": {"ID": "ASC"},
    }
    first = await client.call_envelope("crm.deal.list", {**params, "start": 0})
    pages: list[list[dict[str, Any]]] = [list(first.result or [])]
    total = first.total or 0
    rest = {
        f"p{start}": ("crm.deal.list", {**params, "start": start})
        for start in range(PAGE, total, PAGE)
    }
    if rest:
        pages += [list(page or []) for page in (await client.batch_many(rest)).values()]
    return {int(d["ID"]): str(d.get("DATE_MODIFY") or "") for page in pages for d in page}


async def defer_sweeps(services: Services) -> None:
    async def defer(conn: AsyncConnection) -> None:
        for connection in await active_connections(conn):
            await defer_sync(conn, connection.portal_id, sweep=True)

    await run_in_transaction(services.engine, defer)


async def backfill(
    services: Services,
    connection: Connection,
    *,
    progress: Callable[[int, int], None] | None = None,
    chunk: int = 500,
) -> SyncReport:
    """Re-check every deal the portal has, and every deal Kopilka knows (deleted ones too).

    Resumable: the start is recorded (``b24_sync_state.backfill_started_at``) and cleared at the
    end; a backfill that finds it set was stopped midway and skips the deals synced since then.
    Nothing is posted twice either way: a deal's ledger is reconciled, not appended to."""
    client = services.client_for(connection)
    # the same pages as the ids alone, 50 pages a request; the won deals go first, in the order
    # they were won
    seen = {
        int(d["ID"]): d
        async for d in list_chained(
            client, "crm.deal.list", {"select": ["ID", "CLOSEDATE", "STAGE_SEMANTIC_ID"]}
        )
    }
    started = await run_in_transaction(
        services.engine, lambda conn: _begin_backfill(conn, connection.portal_id)
    )
    async with services.engine.connect() as conn:
        known = [
            int(r.deal_id)
            for r in await conn.execute(
                select(b24_deals.c.deal_id).where(
                    b24_deals.c.portal_id == connection.portal_id, b24_deals.c.semantic != "D"
                )
            )
        ]
        done_before = {
            int(r.deal_id)
            for r in await conn.execute(
                select(b24_deals.c.deal_id).where(
                    b24_deals.c.portal_id == connection.portal_id,
                    b24_deals.c.synced_at >= started,
                )
            )
        }
    ordered = close_order(seen, sorted(set(seen) | set(known)))
    every = [d for d in ordered if d not in done_before]
    total = len(ordered)
    done = total - len(every)
    report = SyncReport()
    if progress:
        progress(done, total)
    for start in range(0, len(every), chunk):
        part = every[start : start + chunk]

        async def hint(conn: AsyncConnection, part: list[int] = part) -> None:
            await mark_dirty(conn, connection.portal_id, part, "backfill")

        await run_in_transaction(services.engine, hint)
        step = await sync_portal(
            services.engine,
            client,
            connection,
            now=services.now,
            chunk=chunk,
            comments=services.settings.b24_timeline_comments,
        )
        report.deals += step.deals
        report.posted += step.posted
        report.writes += step.writes
        report.failed += step.failed
        done += len(part)
        if progress:
            progress(done, total)
    await run_in_transaction(
        services.engine, lambda conn: _end_backfill(conn, connection.portal_id)
    )
    return report


async def _begin_backfill(conn: AsyncConnection, portal_id: int) -> datetime:
    """When this portal's backfill began: now, or an interrupted one's start (kept)."""
    stmt = insert(b24_sync_state).values(portal_id=portal_id, backfill_started_at=func.now())
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["portal_id"],
            set_={
                "backfill_started_at": func.coalesce(
                    b24_sync_state.c.backfill_started_at, func.now()
                )
            },
        )
    )
    started = await conn.scalar(
        select(b24_sync_state.c.backfill_started_at).where(b24_sync_state.c.portal_id == portal_id)
    )
    assert started is not None
    return started  # type: ignore[no-any-return]


async def _end_backfill(conn: AsyncConnection, portal_id: int) -> None:
    await conn.execute(
        update(b24_sync_state)
        .where(b24_sync_state.c.portal_id == portal_id)
        .values(backfill_started_at=None)
    )
