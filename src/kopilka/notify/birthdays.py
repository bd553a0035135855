"""The daily round (R-21 and "points expire soon"), per portal and per customer:

* no card → the manager is asked to issue one; no birth date → to find it out: each customer
  once a year (``bday:<year>:<customer>:no-card`` / ``:no-date``, kept as markers), told in one
  digest per manager and round (``bday-digest:<date>:<manager>:<customer>``, issue 15) rather
  than a notice per customer — the first run on a portal would otherwise send hundreds;
* the day before the birthday → the manager is reminded to congratulate
  (``bday:<year>:<customer>:tomorrow``);
* on the day → a personal greeting e-mail (``bday:<year>:<customer>:greeting``);
* points expiring within ``notifications.expiring_days`` → SMS and e-mail
  (``expiring:<customer>:<date>:sms|email``).

Each key is unique in the outbox, so a reminder goes once per year however often the round runs
(it runs hourly and acts from 09:00 in the program's time zone). "The customers" are the
contacts Kopilka knows (``customers``), read 50 to a command, and every contact of the portal
whose birthday is today or tomorrow, found by filtered reads on ``BIRTHDATE``
(:func:`kopilka.bitrix24.daily.read_by_birthday`) — a contact with no card and no deal is
reminded of too (it becomes a customer of the book, with no points).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24.connections import Connection, active_connections, portal_program
from kopilka.bitrix24.daily import read_by_birthday
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import cards, customers
from kopilka.domain import words
from kopilka.domain.birthday import next_birthday
from kopilka.domain.money import format_points
from kopilka.ledger.book import ensure_customer
from kopilka.ledger.queries import balance
from kopilka.ledger.types import Book
from kopilka.notify import contacts as c
from kopilka.notify.deferred import defer_notify
from kopilka.notify.expand import contact_id_of
from kopilka.notify.outbox import opted_out, queue
from kopilka.notify.templates import render
from kopilka.process.services import Services
from kopilka.program.model import Program

log = logging.getLogger("kopilka.notify")

#: The round acts from this local hour on (nobody is greeted at midnight).
START_HOUR = 9


@dataclass
class DailyReport:
    customers: int = 0
    queued: int = 0


async def run_daily(services: Services) -> DailyReport:
    async with services.engine.connect() as conn:
        connections = await active_connections(conn)
    total = DailyReport()
    for connection in connections:
        try:
            report = await daily_round(services, connection, services.now())
        except Exception:
            log.exception("daily round of portal %s failed", connection.portal_id)
            continue
        total.customers += report.customers
        total.queued += report.queued
    return total


async def daily_round(
    services: Services, connection: Connection, now: datetime, *, force: bool = False
) -> DailyReport:
    """One portal's round; ``force`` ignores the 09:00 start (the CLI and tests)."""
    report = DailyReport()
    async with services.engine.connect() as conn:
        book, program = await portal_program(conn, connection)
        rows = (
            await conn.execute(
                select(customers.c.id, customers.c.external_id).where(
                    customers.c.portal_id == connection.portal_id
                )
            )
        ).all()
        carded = {
            int(r.customer_id)
            for r in await conn.execute(
                select(cards.c.customer_id).where(
                    cards.c.portal_id == connection.portal_id, cards.c.status == "active"
                )
            )
        }
    local = now.astimezone(program.tz)
    settings = program.notifications
    if not force and local.hour < START_HOUR:
        return report
    if not settings.birthdays and settings.expiring_days is None:
        return report
    by_contact = {cid: int(r.id) for r in rows if (cid := contact_id_of(r.external_id))}
    client = services.client_for(connection)
    extra = [f for f in (settings.opt_out_field,) if f]
    found = await c.read_contacts(client, by_contact, extra)
    near: dict[int, dict[str, Any]] = {}
    if settings.birthdays:  # every contact whose birthday is today or tomorrow
        near = await read_by_birthday(client, local.date(), 1, 0, [*c.BASE_SELECT, *extra])
        near = {cid: contact for cid, contact in near.items() if cid not in by_contact}

    async def write(conn: AsyncConnection) -> None:
        known = dict(by_contact)
        for contact_id, fresh in sorted(near.items()):
            known[contact_id] = await ensure_customer(
                conn, connection.portal_id, f"contact:{contact_id}", name=c.full_name(fresh)
            )
        everyone = {**found, **near}
        digest = Digest()
        for contact_id, customer_id in known.items():
            record = everyone.get(contact_id)
            if record is None:
                continue
            contact = record
            report.customers += 1
            args = (conn, connection.portal_id, book, program, contact, customer_id, local)
            if settings.birthdays:
                report.queued += await _birthday(*args, customer_id in carded, digest)
            if settings.expiring_days is not None:
                report.queued += await _expiring(*args, settings.expiring_days)
        report.queued += await digest.send(conn, connection.portal_id, program, local)
        if report.queued:
            await defer_notify(conn, connection.portal_id)

    await run_in_transaction(services.engine, write)
    return report


#: names listed in one digest per kind; the rest are counted
DIGEST_NAMES = 50


@dataclass
class Digest:
    """What each manager is told in one message this round: customers without a card, without
    a birth date."""

    lines: dict[str, dict[str, list[tuple[int, str]]]] = field(default_factory=dict)

    def add(self, manager: str, kind: str, customer_id: int, line: str) -> None:
        self.lines.setdefault(manager, {}).setdefault(kind, []).append((customer_id, line))

    async def send(
        self, conn: AsyncConnection, portal_id: int, program: Program, local: datetime
    ) -> int:
        queued = 0
        for manager, kinds in sorted(self.lines.items()):
            listed: dict[str, Any] = {}
            for kind, role in (("no-card", "no_card"), ("no-date", "no_date")):
                names = [line for _, line in kinds.get(kind, [])]
                listed[role] = names[:DIGEST_NAMES]
                listed[f"{role}_more"] = max(len(names) - DIGEST_NAMES, 0)
            first = min(cid for entries in kinds.values() for cid, _ in entries)
            text = render(program, "birthday_digest.chat", **listed)
            queued += await queue(
                conn, portal_id, key=f"bday-digest:{local.date().isoformat()}:{manager}:{first}",
                channel="b24_chat", recipient=manager, body=text.body,
            )  # fmt: skip
        return queued


async def _skip_reason(
    conn: AsyncConnection, portal_id: int, program: Program, contact: Any, customer_id: int
) -> str | None:
    field = program.notifications.opt_out_field
    if await opted_out(conn, portal_id, customer_id) or (field and c.truthy(contact.get(field))):
        return "the customer opted out"
    return None


async def _birthday(
    conn: AsyncConnection,
    portal_id: int,
    book: Book,
    program: Program,
    contact: dict[str, Any],
    customer_id: int,
    local: datetime,
    has_card: bool,
    digest: Digest,
) -> int:
    today = local.date()
    manager = c.responsible(contact)
    variables: dict[str, Any] = {
        "name": c.first_name(contact),
        "full_name": c.full_name(contact),
        "contact_id": contact.get("ID"),
    }
    queued = 0

    async def listed(kind: str) -> None:
        """Once a year per customer: a marker under the notice's key, the line in the digest."""
        if manager is None:
            return
        if await queue(
            conn, portal_id, key=f"bday:{today.year}:{customer_id}:{kind}", channel="b24_chat",
            recipient=manager, body=kind, customer_id=customer_id,
            skipped="told in the manager's digest",
        ):  # fmt: skip
            digest.add(manager, kind, customer_id, f"{variables['full_name']} "
                       f"(контакт №{variables['contact_id']})")  # fmt: skip

    async def chat(key: str, template: str, **more: Any) -> None:
        nonlocal queued
        if manager is None:
            return
        text = render(program, template, **variables, **more)
        queued += await queue(
            conn, portal_id, key=key, channel="b24_chat", recipient=manager, body=text.body,
            customer_id=customer_id,
        )  # fmt: skip

    if not has_card:
        await listed("no-card")
    born = c.birth_date(contact)
    if born is None:
        await listed("no-date")
        return queued
    day = next_birthday(born, today)
    if day == today + timedelta(days=1):
        await chat(
            f"bday:{day.year}:{customer_id}:tomorrow",
            "birthday_tomorrow.chat",
            birthday=day.strftime("%d.%m"),
        )
    if day == today and (mail := c.email(contact)):
        state = await balance(conn, book, customer_id, local)
        text = render(
            program, "birthday_greeting.email", balance=format_points(state.available), **variables
        )
        skip = await _skip_reason(conn, portal_id, program, contact, customer_id)
        queued += await queue(
            conn, portal_id, key=f"bday:{day.year}:{customer_id}:greeting", channel="email",
            recipient=mail, subject=text.subject, body=text.body, customer_id=customer_id,
            skipped=skip,
        )  # fmt: skip
    return queued


async def _expiring(
    conn: AsyncConnection,
    portal_id: int,
    book: Book,
    program: Program,
    contact: dict[str, Any],
    customer_id: int,
    local: datetime,
    days: int,
) -> int:
    state = await balance(conn, book, customer_id, local)
    horizon = local + timedelta(days=days)
    soon = [
        lot
        for lot in state.expiring
        if lot.expires_at is not None and local < lot.expires_at <= horizon
    ]
    if not soon:
        return 0
    first = min(lot.expires_at for lot in soon if lot.expires_at is not None)
    amount = sum(lot.remaining for lot in soon)
    on = first.astimezone(program.tz).strftime("%d.%m.%Y")
    variables = {
        "name": c.first_name(contact),
        "amount": format_points(amount),
        "amount_words": words.amount(amount, program.points.unit, program.locale),
        "expires_on": on,
    }
    skip = await _skip_reason(conn, portal_id, program, contact, customer_id)
    key = f"expiring:{customer_id}:{first.astimezone(program.tz).date().isoformat()}"
    queued = 0
    if program.notifications.sms and (phone := c.sms_phone(contact)):
        text = render(program, "expiring.sms", **variables)
        queued += await queue(
            conn, portal_id, key=f"{key}:sms", channel="sms", recipient=phone, body=text.body,
            customer_id=customer_id, skipped=skip,
        )  # fmt: skip
    if program.notifications.email and (mail := c.email(contact)):
        text = render(program, "expiring.email", **variables)
        queued += await queue(
            conn, portal_id, key=f"{key}:email", channel="email", recipient=mail,
            subject=text.subject, body=text.body, customer_id=customer_id, skipped=skip,
        )  # fmt: skip
    return queued
