"""Ledger events → messages. The trigger of migration 0004 writes one ``notification_events`` row
per accrual, redemption or capture, in the posting's own transaction; this turns each into the
messages the program asks for (R-20), with one key per message:

* to the customer: an SMS and an e-mail (``event:<id>:sms``, ``event:<id>:email``);
* to the responsible manager: a chat notice of the accrual (``event:<id>:chat``), and, when the
  contact has no e-mail, a notice asking for it (``event:<id>:no-email``; the portal keeps one
  per contact, by its ``TAG``).

Customer messages tell the settled state (issue 15, item 11): an accrual's SMS and e-mail wait
``settle`` (``KOPILKA_NOTIFY_SETTLE_SECONDS``) in the outbox; an accrual reversed meanwhile (a
deal won, then lost) has them dropped, and one reversed after they went out gets a correction
(``reversal.sms``, ``reversal.email``: the reversal's own ``event:<id>:…`` keys).

The contact is read from the portal when the event is expanded (its phone, e-mail, manager and
opt-out field as they are now).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.bitrix24.client import Bitrix24Client
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import (
    cards,
    customers,
    ledger_transactions,
    lots,
    notification_events,
    notifications,
)
from kopilka.domain import words
from kopilka.domain.money import format_points
from kopilka.ledger.queries import balance
from kopilka.ledger.types import Book
from kopilka.notify import contacts as c
from kopilka.notify.outbox import opted_out, queue
from kopilka.notify.templates import render
from kopilka.program.model import Program

log = logging.getLogger("kopilka.notify")

BATCH = 200


def contact_id_of(external_id: str) -> int | None:
    kind, _, raw = external_id.partition(":")
    return int(raw) if kind == "contact" and raw.isdigit() else None


async def pending_events(conn: AsyncConnection, portal_id: int, limit: int = BATCH) -> list[Any]:
    e = notification_events.c
    return list(
        (
            await conn.execute(
                select(notification_events, customers.c.external_id)
                .join(customers, customers.c.id == e.customer_id)
                .where(e.portal_id == portal_id, e.expanded_at.is_(None))
                .order_by(e.id)
                .limit(limit)
            )
        ).all()
    )


@dataclass(frozen=True)
class Merged:
    """The events of one customer, kind and reference seen together (a won deal's several
    earn rules are several transactions, and one message): named by the first event's id."""

    id: int
    kind: str
    customer_id: int
    external_id: str
    reference: str
    amount: int
    transaction_ids: tuple[int, ...]


def merge(events: list[Any]) -> list[Merged]:
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for ev in events:
        key = (ev.customer_id, ev.kind, ev.reference or f"event:{ev.id}")
        groups.setdefault(key, []).append(ev)
    return [
        Merged(
            id=group[0].id,
            kind=group[0].kind,
            customer_id=group[0].customer_id,
            external_id=group[0].external_id,
            reference=group[0].reference,
            amount=sum(e.amount for e in group),
            transaction_ids=tuple(e.transaction_id for e in group),
        )
        for group in groups.values()
    ]


async def expand_events(
    engine: AsyncEngine,
    client: Bitrix24Client,
    portal_id: int,
    book: Book,
    program: Program,
    now: datetime,
    *,
    settle: timedelta = timedelta(0),
) -> int:
    """Expand the portal's new ledger events; returns how many. ``settle``: how long an
    accrual's customer messages wait before they go out."""
    done = 0
    while True:
        async with engine.connect() as conn:
            events = await pending_events(conn, portal_id)
        if not events:
            return done
        ids = {cid for ev in events if (cid := contact_id_of(ev.external_id))}
        wanted = program.notifications
        if not (wanted.sms or wanted.email or wanted.manager_chat or wanted.ask_for_email):
            ids = set()  # the program sends nothing: no need to read the contacts
        extra = [f for f in (program.notifications.opt_out_field,) if f]
        found = await c.read_contacts(client, ids, extra) if ids else {}

        async def write(
            conn: AsyncConnection,
            events: list[Any] = events,
            found: dict[int, dict[str, Any]] = found,
        ) -> None:
            for ev in merge(events):
                cid = contact_id_of(ev.external_id)
                contact = found.get(cid) if cid else None
                if ev.kind == "reversal":
                    await _reversal(conn, portal_id, book, program, ev, contact, now)
                else:
                    await _expand(conn, portal_id, book, program, ev, contact, now, settle)
            await conn.execute(
                update(notification_events)
                .where(notification_events.c.id.in_([ev.id for ev in events]))
                .values(expanded_at=now)
            )

        await run_in_transaction(engine, write)
        done += len(events)


async def _expand(
    conn: AsyncConnection,
    portal_id: int,
    book: Book,
    program: Program,
    ev: Merged,
    contact: dict[str, Any] | None,
    now: datetime,
    settle: timedelta,
) -> None:
    if contact is None:
        log.debug("event %s: contact %s not read; nothing sent", ev.id, ev.external_id)
        return
    settings = program.notifications
    variables = await _variables(conn, book, program, ev, contact, now)
    key = f"event:{ev.id}"
    if ev.kind == "accrual":  # held for the settle window; named by what they tell of
        await _customer_messages(
            conn,
            portal_id,
            program,
            ev,
            contact,
            variables,
            not_before=now + settle if settle else None,
            params={"transactions": list(ev.transaction_ids)},
        )
    else:
        await _customer_messages(conn, portal_id, program, ev, contact, variables)
    manager = c.responsible(contact)
    if manager and ev.kind == "accrual" and settings.manager_chat:
        text = render(program, "accrual.chat", **variables)
        await queue(
            conn,
            portal_id,
            key=f"{key}:chat",
            channel="b24_chat",
            recipient=manager,
            body=text.body,
            customer_id=ev.customer_id,
            event_id=ev.id,
        )
    if manager and not c.email(contact) and settings.ask_for_email:
        text = render(program, "no_email.chat", **variables)
        await queue(
            conn,
            portal_id,
            key=f"{key}:no-email",
            channel="b24_chat",
            recipient=manager,
            body=text.body,
            params={"tag": f"no-email:{contact.get('ID')}"},
            customer_id=ev.customer_id,
            event_id=ev.id,
        )


async def _reversal(
    conn: AsyncConnection,
    portal_id: int,
    book: Book,
    program: Program,
    ev: Merged,
    contact: dict[str, Any] | None,
    now: datetime,
) -> None:
    """An accrual taken back: its customer messages still waiting are dropped (the customer
    never hears of it); where one went out, a correction follows on the same channels."""
    reversed_ids = [
        int(r[0])
        for r in await conn.execute(
            select(ledger_transactions.c.reverses_id).where(
                ledger_transactions.c.id.in_(ev.transaction_ids),
                ledger_transactions.c.reverses_id.is_not(None),
            )
        )
    ]
    if not reversed_ids:
        return
    n = notifications.c
    told = or_(*(n.params["transactions"].contains([t]) for t in reversed_ids))
    where = (n.portal_id == portal_id) & (n.customer_id == ev.customer_id) & told
    await conn.execute(
        update(notifications)
        .where(where, n.status == "pending", n.channel.in_(("sms", "email")))
        .values(status="skipped", last_error="the accrual was reversed before it was told")
    )
    sent = set(
        (
            await conn.scalars(
                select(n.channel).where(
                    where, n.status.in_(("sent", "sending")), n.channel.in_(("sms", "email"))
                )
            )
        ).all()
    )
    if contact is None or not sent:
        return
    variables = await _variables(conn, book, program, ev, contact, now)
    await _customer_messages(
        conn, portal_id, program, ev, contact, variables, channels=frozenset(sent)
    )


async def _variables(
    conn: AsyncConnection,
    book: Book,
    program: Program,
    ev: Merged,
    contact: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """What the texts may say of the event."""
    state = await balance(conn, book, ev.customer_id, now)
    lot = (
        await conn.execute(
            select(lots.c.available_at)
            .where(lots.c.transaction_id.in_(ev.transaction_ids))
            .order_by(lots.c.available_at.desc())
            .limit(1)
        )
    ).first()
    card = await conn.scalar(
        select(cards.c.number).where(
            cards.c.portal_id == book.portal_id,
            cards.c.customer_id == ev.customer_id,
            cards.c.status == "active",
        )
    )
    ref_kind, _, ref_id = str(ev.reference).partition(":")
    return {
        "name": c.first_name(contact),
        "full_name": c.full_name(contact),
        "contact_id": contact.get("ID"),
        "amount": format_points(ev.amount),
        "balance": format_points(state.available),
        # with the program's unit in its plural form: «1 бонус», «375 баллов», "21 points"
        "amount_words": words.amount(ev.amount, program.points.unit, program.locale),
        "balance_words": words.amount(state.available, program.points.unit, program.locale),
        "pending": lot is not None and lot.available_at > now,
        "available_on": lot.available_at.astimezone(program.tz).strftime("%d.%m.%Y") if lot else "",
        "deal": ref_id if ref_kind == "deal" else "",
        "card": card or "",
    }


async def _customer_messages(
    conn: AsyncConnection,
    portal_id: int,
    program: Program,
    ev: Merged,
    contact: dict[str, Any],
    variables: dict[str, Any],
    *,
    not_before: datetime | None = None,
    params: dict[str, Any] | None = None,
    channels: frozenset[str] = frozenset(("sms", "email")),
) -> None:
    """The event's SMS and e-mail to the customer (``<kind>.sms``, ``<kind>.email``), on the
    channels the program sends and the customer has."""
    settings = program.notifications
    opted = await opted_out(conn, portal_id, ev.customer_id) or (
        settings.opt_out_field is not None and c.truthy(contact.get(settings.opt_out_field))
    )
    skip = "the customer opted out" if opted else None
    phone = variables["card"] or c.sms_phone(contact)
    mail = c.email(contact)
    key = f"event:{ev.id}"
    if settings.sms and phone and "sms" in channels:
        text = render(program, f"{ev.kind}.sms", **variables)
        await queue(
            conn,
            portal_id,
            key=f"{key}:sms",
            channel="sms",
            recipient=phone,
            body=text.body,
            skipped=skip,
            customer_id=ev.customer_id,
            event_id=ev.id,
            not_before=not_before,
            params=params,
        )
    if settings.email and mail and "email" in channels:
        text = render(program, f"{ev.kind}.email", **variables)
        await queue(
            conn,
            portal_id,
            key=f"{key}:email",
            channel="email",
            recipient=mail,
            subject=text.subject,
            body=text.body,
            skipped=skip,
            customer_id=ev.customer_id,
            event_id=ev.id,
            not_before=not_before,
            params=params,
        )
