"""Holds past their TTL are released by a periodic job, for every program of every portal.

A hold a cash desk placed and never committed or cancelled, or one a deal kept longer than the
program's ``hold_ttl_hours``, goes back to the customer. A deal's hold is then re-evaluated at
once: the deal is marked dirty, so if it still asks to pay with points the sync holds again
(and the portal's contact fields follow the new balance either way).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import programs
from kopilka.ledger.spending import expire_holds
from kopilka.ledger.types import Book

log = logging.getLogger("kopilka.holds.service")

_DEAL = re.compile(r"^deal:(\d+)(?::|$)")


async def expire_due_holds(engine: AsyncEngine, now: datetime) -> int:
    """Release every due hold, one transaction per program; the number released."""
    async with engine.connect() as conn:
        books = [
            Book(r.portal_id, r.id, r.code, None, ZoneInfo(r.timezone))
            for r in await conn.execute(select(programs))
        ]
    released = 0
    for book in books:

        async def unit(conn: AsyncConnection, book: Book = book) -> int:
            from kopilka.bitrix24.connections import is_connected
            from kopilka.bitrix24.deferred import defer_sync
            from kopilka.bitrix24.sync import mark_dirty

            done = await expire_holds(conn, book, now=now)
            deals = sorted({int(m.group(1)) for p in done if (m := _DEAL.match(p.reference or ""))})
            if deals and await is_connected(conn, book.portal_id):
                await mark_dirty(conn, book.portal_id, deals, "hold expired")
                await defer_sync(conn, book.portal_id)
            return len(done)

        count = await run_in_transaction(engine, unit)
        if count:
            log.info("released %d expired holds of program %s", count, book.program_code)
        released += count
    return released
