"""Use cases shared by the jobs, the CLI and the tests: expand and deliver a portal's messages,
issue cards for the contacts Bitrix24 told us about."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.api.portal import current_program
from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.connections import Connection, UnknownPortal, get_connection, portal_program
from kopilka.bitrix24.deferred import defer_sync
from kopilka.bitrix24.outbox import pending_count
from kopilka.cards.service import CardOutcome, issue_card
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import contact_hints
from kopilka.notify.channels import configured
from kopilka.notify.contacts import read_contacts
from kopilka.notify.deferred import defer_notify
from kopilka.notify.expand import expand_events
from kopilka.notify.outbox import Delivery, Policy, deliver_due
from kopilka.process.services import Services
from kopilka.program.model import Program
from kopilka.program.notify import Cards, parse_quiet_hours

log = logging.getLogger("kopilka.notify")


def http_of(services: Services) -> httpx.AsyncClient:
    if services.http is None:
        services.http = httpx.AsyncClient(timeout=services.settings.b24_timeout)
    return services.http


def policy_for(services: Services, program: Program) -> Policy:
    hours = program.notifications.quiet_hours
    quiet = parse_quiet_hours(services.settings.quiet_hours if hours is None else hours)
    return Policy.of(services.settings, program.tz, quiet)


async def _connection(services: Services, portal_id: int) -> Connection:
    async with services.engine.connect() as conn:
        return await get_connection(conn, portal_id)


async def run_notify(services: Services, portal_id: int) -> Delivery:
    """Expand the portal's new ledger events into messages, then deliver what is due. A local
    portal (no Bitrix24 connection: the cabinet's login codes) only delivers."""
    try:
        connection: Connection | None = await _connection(services, portal_id)
    except UnknownPortal:
        connection = None
    client: Bitrix24Client | None = None
    if connection is not None and connection.status == "active":
        client = services.client_for(connection)
    async with services.engine.connect() as conn:
        if connection is None:
            book, program = await current_program(conn, portal_id)
        else:
            book, program = await portal_program(conn, connection)
    if client is not None:
        settle = timedelta(seconds=services.settings.notify_settle_seconds)
        await expand_events(
            services.engine, client, portal_id, book, program, services.now(), settle=settle
        )
    channels = configured(services.settings, http_of(services), client)
    return await deliver_due(
        services.engine, portal_id, channels, policy_for(services, program), now=services.now
    )


async def mark_contacts(conn: AsyncConnection, portal_id: int, contact_ids: list[int]) -> None:
    """Record that these contacts changed (in the events endpoint's transaction)."""
    for contact_id in sorted(set(contact_ids)):
        stmt = insert(contact_hints).values(portal_id=portal_id, contact_id=contact_id)
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["portal_id", "contact_id"],
                set_={"version": contact_hints.c.version + 1, "hinted_at": stmt.excluded.hinted_at},
            )
        )


@dataclass
class CardRound:
    contacts: int = 0
    outcomes: dict[int, CardOutcome] = field(default_factory=dict)


async def run_cards(services: Services, portal_id: int, *, chunk: int = 200) -> CardRound:
    """Drain the portal's contact hints: read the contacts (batched) and issue what is due."""
    connection = await _connection(services, portal_id)
    report = CardRound()
    if connection.status != "active":
        return report
    client = services.client_for(connection)
    async with services.engine.connect() as conn:
        _book, program = await portal_program(conn, connection)
    rules = program.cards or Cards()
    while True:
        async with services.engine.connect() as conn:
            hints = {
                int(r.contact_id): int(r.version)
                for r in await conn.execute(
                    select(contact_hints.c.contact_id, contact_hints.c.version)
                    .where(contact_hints.c.portal_id == portal_id)
                    .order_by(contact_hints.c.hinted_at)
                    .limit(chunk)
                )
            }
        if not hints:
            return report
        extra = [f for f in rules.required if f.startswith("UF_")]
        found = await read_contacts(client, hints, extra) if program.cards else {}

        async def apply(
            conn: AsyncConnection,
            hints: dict[int, int] = hints,
            found: dict[int, dict[str, Any]] = found,
        ) -> None:
            noticed = False
            for contact_id, version in hints.items():
                contact = found.get(contact_id)
                if contact is not None:
                    outcome = await issue_card(conn, portal_id, program, contact, issued_by="auto")
                    report.outcomes[contact_id] = outcome
                    noticed = noticed or outcome.status not in ("incomplete", "exists")
                await conn.execute(
                    delete(contact_hints).where(
                        contact_hints.c.portal_id == portal_id,
                        contact_hints.c.contact_id == contact_id,
                        contact_hints.c.version == version,
                    )
                )
            if await pending_count(conn, portal_id):  # the card field (the connector's outbox)
                await defer_sync(conn, portal_id)
            if noticed:
                await defer_notify(conn, portal_id)

        await run_in_transaction(services.engine, apply)
        report.contacts += len(hints)
