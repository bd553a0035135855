"""A registration's job (R-18): find the contact by phone (``crm.duplicate.findbycomm``) or create
it, issue the card, queue the manager's to-do — safe to repeat (a job that dies after creating
the contact finds it by phone on its next attempt)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24.connections import get_connection, portal_program
from kopilka.bitrix24.deferred import defer_sync
from kopilka.cards.service import issue_card
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import registrations
from kopilka.notify.contacts import read_contacts, responsible
from kopilka.notify.deferred import defer_notify
from kopilka.notify.outbox import queue
from kopilka.notify.templates import render
from kopilka.process.services import Services

log = logging.getLogger("kopilka.registration.endpoints")


def _contact_fields(row: Any, responsible_id: int | None) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "NAME": row.name,
        "LAST_NAME": row.last_name,
        "PHONE": [{"VALUE": row.phone, "VALUE_TYPE": "MOBILE"}],
        "SOURCE_ID": "WEB",
        "OPENED": "Y",
    }
    if row.email:
        fields["EMAIL"] = [{"VALUE": row.email, "VALUE_TYPE": "WORK"}]
    if row.birth_date:
        fields["BIRTHDATE"] = row.birth_date.isoformat()
    if responsible_id:
        fields["ASSIGNED_BY_ID"] = responsible_id
    return fields


async def process_registration(services: Services, registration_id: int) -> None:
    """Find or create the contact, issue the card, queue the manager's to-do. Safe to repeat."""
    async with services.engine.connect() as conn:
        row = (
            await conn.execute(select(registrations).where(registrations.c.id == registration_id))
        ).one()
        connection = await get_connection(conn, row.portal_id)
        _book, program = await portal_program(conn, connection)
    if row.status == "done":
        return
    client = services.client_for(connection)
    found = await client.call(
        "crm.duplicate.findbycomm",
        {"type": "PHONE", "values": [row.phone], "entity_type": "CONTACT"},
    )
    ids = (
        sorted(int(i) for i in (found or {}).get("CONTACT", [])) if isinstance(found, dict) else []
    )
    created = not ids
    if ids:
        contact_id = ids[0]
    else:
        fields = _contact_fields(row, program.registration.responsible_id)
        contact_id = int(await client.call("crm.contact.add", {"fields": fields}, write=True))
        log.info("registration %s: contact %s created", registration_id, contact_id)
    contact = (await read_contacts(client, [contact_id])).get(contact_id)
    if contact is None:
        raise RuntimeError(f"contact {contact_id} vanished while registering")
    delay = timedelta(minutes=program.registration.todo_after_minutes)
    todo_at = row.consent_at + delay  # consent_at: when the site posted it

    async def finish(conn: AsyncConnection) -> None:
        outcome = await issue_card(
            conn, row.portal_id, program, contact, issued_by="registration", check_required=False
        )
        manager = responsible(contact)
        if manager is not None:
            local = row.consent_at.astimezone(program.tz)
            text = render(
                program,
                "registration.todo",
                full_name=f"{row.name} {row.last_name}".strip(),
                phone=row.phone,
                email=row.email,
                registered_at=local.strftime("%d.%m.%Y %H:%M"),
            )
            deadline = (todo_at + timedelta(days=1)).astimezone(program.tz)
            await queue(
                conn, row.portal_id, key=f"registration:{row.id}:todo", channel="b24_todo",
                recipient=manager, subject=text.subject, body=text.body, not_before=todo_at,
                customer_id=outcome.customer_id,
                params={"owner_type_id": 3, "owner_id": contact_id,
                        "deadline": deadline.isoformat(timespec="seconds")},
            )  # fmt: skip
        await conn.execute(
            update(registrations)
            .where(registrations.c.id == row.id)
            .values(
                status="done",
                contact_id=contact_id,
                contact_created=created,
                done_at=datetime.now(UTC),
                last_error=None,
            )
        )
        await defer_sync(conn, row.portal_id)
        await defer_notify(conn, row.portal_id)

    await run_in_transaction(services.engine, finish)


async def note_failure(
    services: Services, registration_id: int, exc: Exception, *, final: bool
) -> None:
    """Record why the job failed (``failed`` once the retries are used up)."""
    values: dict[str, Any] = {"last_error": f"{type(exc).__name__}: {exc}"[:500]}
    if final:
        values["status"] = "failed"

    async def record(conn: AsyncConnection) -> None:
        await conn.execute(
            update(registrations)
            .where(registrations.c.id == registration_id, registrations.c.status != "done")
            .values(**values)
        )

    await run_in_transaction(services.engine, record)
