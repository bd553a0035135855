"""Calendar expiry (R-09): the lots past their date expired, effective at the instant they were
due, once; the owners' fields refreshed and each expiry explained on the contact's timeline."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24 import outbox
from kopilka.bitrix24.connections import Connection
from kopilka.bitrix24.daily.common import (
    EXPIRY_CHUNK,
    contact_id_of,
    serialise_with_sync,
)
from kopilka.bitrix24.writeback import refresh_contacts, timeline_write
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import accounts, customers
from kopilka.domain.texts import points as points_text
from kopilka.domain.texts import reason, say
from kopilka.ledger.expiry import due_accounts, expire_accounts
from kopilka.ledger.types import Book, Posted
from kopilka.process.services import Services
from kopilka.program.model import Program

log = logging.getLogger("kopilka.bitrix24.daily")


async def _owners(conn: AsyncConnection, account_ids: Sequence[int]) -> dict[int, int]:
    """account id -> the portal contact owning it (accounts of other customers left out)."""
    rows = await conn.execute(
        select(accounts.c.id, customers.c.external_id)
        .join(customers, customers.c.id == accounts.c.customer_id)
        .where(accounts.c.id.in_(list(account_ids)))
    )
    return {
        int(r.id): contact
        for r in rows
        if (contact := contact_id_of(str(r.external_id))) is not None
    }


def expiry_comment(tx: Posted, locale: str = "ru") -> str:
    amount = sum(leg.amount for leg in tx.legs if leg.account_kind == "expired")
    said = say(
        locale, "expired", points=points_text(locale, amount), reason=reason(locale, tx.reason)
    )
    return f"{say(locale, 'brand')}: {said}{say(locale, 'mark.entry', n=tx.id)}"


async def expire_portal(
    services: Services, connection: Connection, book: Book, program: Program, now: datetime
) -> tuple[int, int]:
    """Post every due expiry of the portal's book; (entries, points in kopecks).

    Each chunk of accounts in one transaction: the expiry postings (effective when due, keyed by
    what they expire, so a late or repeated run posts each once), the owners' refreshed fields and
    a comment on each owner's timeline.
    """
    async with services.engine.connect() as conn:
        due = await due_accounts(conn, book, now)
    entries = points = 0
    comments = services.settings.b24_timeline_comments
    for start in range(0, len(due), EXPIRY_CHUNK):
        chunk = due[start : start + EXPIRY_CHUNK]

        async def unit(conn: AsyncConnection, chunk: list[int] = chunk) -> list[Posted]:
            await serialise_with_sync(conn, connection.portal_id)
            posted = await expire_accounts(conn, book, chunk, now=now)
            owners = await _owners(conn, chunk)
            contacts = sorted(set(owners.values()))
            await refresh_contacts(
                conn, book, program, connection.portal_id, contacts, max(now, services.now())
            )
            for tx in posted if comments else []:
                account = next(leg.account_id for leg in tx.legs if leg.amount < 0)
                contact = owners.get(account)
                if contact is not None and not tx.replayed:
                    key = f"comment:tx:{tx.id}"
                    await outbox.queue_writes(
                        conn,
                        connection.portal_id,
                        [
                            timeline_write(
                                "contact", contact, key, expiry_comment(tx, program.locale)
                            )
                        ],
                    )
            return posted

        posted = await run_in_transaction(services.engine, unit)
        entries += sum(1 for tx in posted if not tx.replayed)
        points += sum(
            leg.amount
            for tx in posted
            if not tx.replayed
            for leg in tx.legs
            if leg.account_kind == "expired"
        )
    if entries:
        log.info("portal %s: %d expiry entries posted", connection.portal_id, entries)
    return entries, points
