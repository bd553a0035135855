"""Totals (R-16): vanished and changed deals synced first, then every contact with recorded won
deals gets its fields recomputed from scratch, in chunks."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24.client import PAGE_SIZE as PAGE
from kopilka.bitrix24.connections import Connection
from kopilka.bitrix24.daily.common import (
    TOTALS,
    TOTALS_CHUNK,
    flush,
    local_day,
    record_run,
    serialise_with_sync,
)
from kopilka.bitrix24.service import sweep_portal
from kopilka.bitrix24.sync import SyncReport, mark_dirty
from kopilka.bitrix24.writeback import refresh_contacts
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import b24_deal_shares, b24_deals
from kopilka.ledger.types import Book
from kopilka.process.services import Services
from kopilka.program.model import Program

log = logging.getLogger("kopilka.bitrix24.daily")


async def vanished_deals(services: Services, connection: Connection) -> list[int]:
    """Recorded deals (not known deleted) that the portal no longer has: a deletion whose event
    was lost. Read as ``@ID`` lists, 50 IDs a command, 50 commands a request."""
    async with services.engine.connect() as conn:
        known = [
            int(d)
            for d in await conn.scalars(
                select(b24_deals.c.deal_id)
                .where(b24_deals.c.portal_id == connection.portal_id, b24_deals.c.semantic != "D")
                .order_by(b24_deals.c.deal_id)
            )
        ]
    if not known:
        return []
    client = services.client_for(connection)
    parts = [known[i : i + PAGE] for i in range(0, len(known), PAGE)]
    found = await client.batch_many(
        {
            f"d{n}": ("crm.deal.list", {"filter": {"@ID": part}, "select": ["ID"], "start": -1})
            for n, part in enumerate(parts)
        }
    )
    present = {int(d["ID"]) for page in found.values() for d in page or []}
    return [d for d in known if d not in present]


async def recorded_contacts(conn: AsyncConnection, portal_id: int) -> list[int]:
    """Every contact with a won deal on record."""
    rows = await conn.scalars(
        select(b24_deal_shares.c.contact_id)
        .where(b24_deal_shares.c.portal_id == portal_id)
        .distinct()
        .order_by(b24_deal_shares.c.contact_id)
    )
    return [int(c) for c in rows]


async def refresh_all(
    services: Services,
    connection: Connection,
    book: Book,
    program: Program,
    now: datetime,
    *,
    chunk: int = TOTALS_CHUNK,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Recompute and queue the fields of every contact with recorded won deals, a chunk of
    contacts per transaction; returns how many."""
    async with services.engine.connect() as conn:
        contacts = await recorded_contacts(conn, connection.portal_id)
    for start in range(0, len(contacts), chunk):
        part = contacts[start : start + chunk]

        async def unit(conn: AsyncConnection, part: list[int] = part) -> None:
            await serialise_with_sync(conn, connection.portal_id)
            # the clock as of this chunk: a deal settled since the run began counts
            moment = max(now, services.now())
            await refresh_contacts(conn, book, program, connection.portal_id, part, moment)

        await run_in_transaction(services.engine, unit)
        if progress:
            progress(start + len(part), len(contacts))
    return len(contacts)


async def totals(
    services: Services, connection: Connection, book: Book, program: Program, now: datetime
) -> tuple[int, int, SyncReport]:
    """Catch up with the portal (lost deletions, missed edits), then refresh every contact;
    (vanished deals, contacts refreshed, the catch-up sync)."""
    gone = await vanished_deals(services, connection)
    if gone:

        async def hint(conn: AsyncConnection) -> None:
            await mark_dirty(conn, connection.portal_id, gone, "daily")

        await run_in_transaction(services.engine, hint)
    await sweep_portal(services, connection)
    report = await flush(services, connection)
    refreshed = await refresh_all(services, connection, book, program, now)

    async def done(conn: AsyncConnection) -> None:
        stats = {"vanished": len(gone), "contacts": refreshed}
        await record_run(conn, connection.portal_id, TOTALS, local_day(program, now), stats)

    await run_in_transaction(services.engine, done)
    return len(gone), refreshed, report
