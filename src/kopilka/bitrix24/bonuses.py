"""Manual bonuses for a contact of a connected portal (R-11).

The grant (``ledger.grants``: reason, per-grant and per-period limits, who and why), the
contact's refreshed fields and a comment on its timeline are one transaction; the writes are then
sent by a sync of the portal. A refused grant writes nothing, anywhere.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.audit import record
from kopilka.bitrix24 import outbox
from kopilka.bitrix24.connections import Connection, portal_program
from kopilka.bitrix24.daily import CONTACT_PREFIX, flush, serialise_with_sync
from kopilka.bitrix24.errors import B24Error, B24NotFound
from kopilka.bitrix24.writeback import refresh_contacts, timeline_write
from kopilka.db.engine import run_in_transaction
from kopilka.domain.errors import InvalidCommand, NotFound
from kopilka.domain.manual import Granter
from kopilka.domain.texts import points, reason, say
from kopilka.ledger.book import ensure_customer
from kopilka.ledger.grants import grant
from kopilka.ledger.types import Book, Posted
from kopilka.process.services import Services
from kopilka.program.model import Program

log = logging.getLogger("kopilka.bitrix24.bonuses")


class UnknownContact(NotFound):
    code = "unknown_contact"


def contact_ref(customer: str) -> int:
    """``42`` or ``contact:42`` → 42."""
    tail = customer.strip().removeprefix(CONTACT_PREFIX)
    if not tail.isdigit() or int(tail) <= 0:
        raise InvalidCommand(
            f"a portal's customer is a contact ID, like 42 or contact:42 — got {customer!r}"
        )
    return int(tail)


def grant_comment(tx: Posted, locale: str = "ru") -> str:
    """«Копилка: +500 бонусов — Бонус за отзыв (выдал: Мария) · запись №12»."""
    earned = sum(leg.amount for leg in tx.legs if leg.account_kind == "customer")
    said = say(
        locale,
        "grant",
        points=points(locale, earned),
        reason=reason(locale, tx.reason),
        actor=tx.actor,
    )
    return f"{say(locale, 'brand')}: {said}{say(locale, 'mark.entry', n=tx.id)}"


async def reflect_grant(
    conn: AsyncConnection,
    book: Book,
    program: Program,
    portal_id: int,
    contact_id: int,
    posted: Posted,
    now: datetime,
) -> None:
    """In the grant's transaction (which took :func:`serialise_with_sync` first): the contact's
    fields and a timeline comment on the contact, queued for the portal. Whoever grants — the
    CLI, the API — the portal shows it the same way."""
    if posted.replayed:
        return
    await refresh_contacts(conn, book, program, portal_id, [contact_id], now)
    key = f"comment:tx:{posted.id}"
    await outbox.queue_writes(
        conn,
        portal_id,
        [timeline_write("contact", contact_id, key, grant_comment(posted, program.locale))],
    )


async def audit_grant(
    conn: AsyncConnection, actor: str, portal_id: int, subject: str, posted: Posted
) -> None:
    """The grant in the audit log (issue 18), in the grant's transaction."""
    earned = sum(leg.amount for leg in posted.legs if leg.account_kind == "customer")
    details = {"transaction": posted.id, "amount": earned, "rule": posted.rule_id}
    comment = str((posted.rule_inputs or {}).get("comment") or "")
    await record(
        conn,
        actor,
        "grant.posted",
        subject,
        details,
        comment,
        portal_id=portal_id,
        at=posted.effective_at,
    )


async def grant_on_portal(
    services: Services,
    connection: Connection,
    *,
    contact_id: int,
    reason: str,
    amount: int | None,
    actor: str,
    key: str,
    now: datetime,
    comment: str | None = None,
    granter: Granter | None = None,
) -> tuple[Posted, bool]:
    """Grant a manual bonus to a portal contact; (the posting, whether the portal was updated).

    The contact must exist in the portal; ``granter``: the person granting, held to their own
    limit (``ledger.grants``). When the portal cannot be reached after the grant, the
    grant stands and its writes stay queued for the next sync.
    """
    client = services.client_for(connection)
    try:
        record = await client.call("crm.contact.get", {"id": contact_id})
    except B24NotFound:
        raise UnknownContact(f"contact {contact_id} is not in portal {connection.domain}") from None
    name = " ".join(str(record.get(k) or "") for k in ("NAME", "LAST_NAME")).strip()

    async def unit(conn: AsyncConnection) -> Posted:
        await serialise_with_sync(conn, connection.portal_id)
        book, program = await portal_program(conn, connection)
        customer = await ensure_customer(
            conn, connection.portal_id, f"{CONTACT_PREFIX}{contact_id}", name=name
        )
        posted = await grant(
            conn,
            book,
            program,
            customer_id=customer,
            reason=reason,
            amount=amount,
            actor=actor,
            key=key,
            now=now,
            comment=comment,
            source=f"manual grant by {actor}",
            granter=granter,
        )
        await reflect_grant(conn, book, program, connection.portal_id, contact_id, posted, now)
        if not posted.replayed:
            await audit_grant(conn, actor, connection.portal_id, f"contact:{contact_id}", posted)
        return posted

    posted = await run_in_transaction(services.engine, unit)
    try:
        await flush(services, connection)
    except B24Error as exc:
        log.warning(
            "grant %s posted; the portal's fields wait for the next sync: %s", posted.id, exc
        )
        return posted, False
    return posted, True
