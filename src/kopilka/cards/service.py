"""Bonus cards (R-17): the card number is the customer's phone in E.164, one active card per
customer, one customer per number (the database's unique keys hold both).

``issue_card`` decides and writes in the caller's transaction:

* the contact lacks a field the program requires (``cards.required``) → nothing yet, unless the
  card is issued by hand or by a registration, which need only the phone;
* no phone → the responsible manager gets one chat notice (``card:<contact>:no-phone``, once);
* a phone that is not a number → a notice per wrong value;
* the number already belongs to another customer's card → a notice naming that contact, and no
  card (never a silent merge);
* otherwise the card is stored, its number queued for the contact's card field (the connector's
  outbox, sent by the portal's next sync) and a note queued for the contact's timeline.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.audit import record
from kopilka.bitrix24.connections import get_connection, portal_program
from kopilka.bitrix24.deferred import defer_sync
from kopilka.bitrix24.outbox import queue_write
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import cards, customers
from kopilka.ledger.book import ensure_customer
from kopilka.notify import contacts as c
from kopilka.notify.contacts import read_contacts
from kopilka.notify.deferred import defer_notify
from kopilka.notify.outbox import queue
from kopilka.notify.templates import render
from kopilka.phones import InvalidPhone, normalize_phone
from kopilka.process.services import Services
from kopilka.program.model import Program
from kopilka.program.notify import Cards

log = logging.getLogger("kopilka.cards.service")

Status = Literal["issued", "exists", "incomplete", "no_phone", "bad_phone", "taken"]


@dataclass(frozen=True)
class CardOutcome:
    status: Status
    number: str | None = None
    customer_id: int | None = None
    other_contact: str | None = None


async def active_card(conn: AsyncConnection, customer_id: int) -> str | None:
    number: str | None = await conn.scalar(
        select(cards.c.number).where(cards.c.customer_id == customer_id, cards.c.status == "active")
    )
    return number


async def _holder(conn: AsyncConnection, portal_id: int, number: str) -> Any:
    return (
        await conn.execute(
            select(cards.c.customer_id, customers.c.external_id)
            .join(customers, customers.c.id == cards.c.customer_id)
            .where(cards.c.portal_id == portal_id, cards.c.number == number)
        )
    ).first()


async def issue_card(
    conn: AsyncConnection,
    portal_id: int,
    program: Program,
    contact: Mapping[str, Any],
    *,
    issued_by: str,
    check_required: bool = True,
) -> CardOutcome:
    contact_id = int(contact["ID"])
    rules = program.cards or Cards()
    variables: dict[str, Any] = {"full_name": c.full_name(contact), "contact_id": contact_id}
    manager = c.responsible(contact)

    async def notice(key: str, template: str, **more: Any) -> None:
        if manager is None:
            log.info("contact %s has no responsible manager: %s not sent", contact_id, key)
            return
        text = render(program, template, **variables, **more)
        await queue(conn, portal_id, key=key, channel="b24_chat", recipient=manager, body=text.body)

    missing = [f for f in rules.required if f != "PHONE" and not c.filled(contact, f)]
    if check_required and missing:
        return CardOutcome("incomplete")
    raw = c.raw_phone(contact)
    if raw is None:
        await notice(f"card:{contact_id}:no-phone", "card_no_phone.chat")
        return CardOutcome("no_phone")
    try:
        number = normalize_phone(raw)
    except InvalidPhone:
        digits = "".join(ch for ch in raw if ch.isalnum())[:40] or "empty"
        await notice(f"card:{contact_id}:bad-phone:{digits}", "card_bad_phone.chat", phone=raw)
        return CardOutcome("bad_phone")
    customer_id = await ensure_customer(
        conn, portal_id, f"contact:{contact_id}", name=c.full_name(contact), phone=number
    )
    current = await active_card(conn, customer_id)
    if current is not None:
        await _write_field(conn, portal_id, program, contact_id, current)
        return CardOutcome("exists", current, customer_id)
    holder = await _holder(conn, portal_id, number)
    if holder is not None and holder.customer_id != customer_id:
        other = holder.external_id.partition(":")[2] or holder.external_id
        await notice(
            f"card:{contact_id}:taken:{number}", "card_phone_taken.chat", card=number,
            other_contact=other,
        )  # fmt: skip
        return CardOutcome("taken", number, customer_id, other)
    card_id = await conn.scalar(
        insert(cards)
        .values(portal_id=portal_id, customer_id=customer_id, number=number, issued_by=issued_by)
        .returning(cards.c.id)
    )
    log.info("card %s issued to contact %s (%s)", card_id, contact_id, issued_by)
    await _write_field(conn, portal_id, program, contact_id, number)
    text = render(program, "card_issued.timeline", card=number, **variables)
    await queue(
        conn, portal_id, key=f"card:{card_id}:timeline", channel="b24_timeline",
        recipient=f"contact:{contact_id}", body=text.body, customer_id=customer_id,
        params={"entity_type": "contact", "entity_id": contact_id},
    )  # fmt: skip
    return CardOutcome("issued", number, customer_id)


async def _write_field(
    conn: AsyncConnection, portal_id: int, program: Program, contact_id: int, number: str
) -> None:
    field = program.fields.contact.card_number
    if field:
        await queue_write(
            conn,
            portal_id,
            key=f"contact:{contact_id}:card",
            method="crm.contact.update",
            params={"id": contact_id, "fields": {field: number}},
            idempotent=True,
        )


# By hand (R-17: "once a phone is added the card can be issued again by hand"): the API's
# ``POST /api/v1/contacts/{contact_id}/card`` and ``kopilka card issue --contact N``; only the
# phone is required.
class ContactNotFound(LookupError):
    pass


async def issue_by_hand(
    services: Services, portal_id: int, contact_id: int, *, actor: str
) -> CardOutcome:
    async with services.engine.connect() as conn:
        connection = await get_connection(conn, portal_id)
        _book, program = await portal_program(conn, connection)
    rules = program.cards or Cards()
    extra = [f for f in rules.required if f.startswith("UF_")]
    contact = (await read_contacts(services.client_for(connection), [contact_id], extra)).get(
        contact_id
    )
    if contact is None:
        raise ContactNotFound(f"contact {contact_id} is not in the portal")

    async def issue(conn: AsyncConnection) -> CardOutcome:
        outcome = await issue_card(
            conn, portal_id, program, contact, issued_by=actor, check_required=False
        )
        if outcome.status in ("issued", "exists"):  # the audit log names who did it (issue 18)
            action = "card.issued" if outcome.status == "issued" else "card.rewritten"
            details = {"number": outcome.number}
            await record(conn, actor, action, f"contact:{contact_id}", details, portal_id=portal_id)
        await defer_sync(conn, portal_id)
        await defer_notify(conn, portal_id)
        return outcome

    return await run_in_transaction(services.engine, issue)
