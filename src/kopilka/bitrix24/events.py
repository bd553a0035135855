"""The doors Bitrix24 knocks on: ``POST /b24/events`` and ``POST /b24/install``.

An event is verify → record the hint → defer the sync, in one transaction, and answer at once
(STYLE 12; Bitrix24 does not wait long and never retries). The transaction does not wait for the
disk (``synchronous_commit`` off): a hint lost in a crash is found again by the sweep.

The event's ``auth[application_token]`` must match the one stored for the portal (from
ONAPPINSTALL, or the outgoing webhook's token given to ``kopilka connect``); a forged or unknown
one gets 401, is recorded in ``b24_rejected_events`` and logged (without the token), and queues
nothing.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24.connections import (
    Connection,
    adopt_member_id,
    find_connection,
    install_app,
    mark_uninstalled,
)
from kopilka.bitrix24.products import mark_stale
from kopilka.bitrix24.sync import mark_dirty
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import b24_rejected_events
from kopilka.domain.errors import InvalidCommand
from kopilka.jobs import defer_sync
from kopilka.notify.jobs import defer_cards
from kopilka.notify.service import mark_contacts
from kopilka.services import Services
from kopilka.web.forms import nested, parse_form

log = logging.getLogger("kopilka.bitrix24.events")
router = APIRouter(prefix="/b24", tags=["bitrix24"])

DEAL_EVENTS = {"ONCRMDEALADD", "ONCRMDEALUPDATE", "ONCRMDEALDELETE"}
PRODUCT_EVENTS = {"ONCRMPRODUCTUPDATE", "ONCRMPRODUCTDELETE"}  # the catalog cache is stale
CONTACT_EVENTS = {"ONCRMCONTACTADD", "ONCRMCONTACTUPDATE"}  # bonus cards (kopilka.cards)
HINT_EVENTS = DEAL_EVENTS | PRODUCT_EVENTS | CONTACT_EVENTS


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def _reject(services: Services, form: dict[str, str], reason: str, remote: str) -> None:
    auth = nested(form, "auth")

    async def record(conn: AsyncConnection) -> None:
        await conn.execute(
            insert(b24_rejected_events).values(
                member_id=auth.get("member_id", "")[:64],
                event=form.get("event", "")[:64],
                reason=reason,
                remote=remote,
            )
        )

    await run_in_transaction(services.engine, record)
    log.warning(
        "rejected Bitrix24 event %r for member %r from %s: %s",
        form.get("event", "")[:64],
        auth.get("member_id", "")[:64],
        remote,
        reason,
    )


async def _incoming(request: Request) -> tuple[str, dict[str, str] | None]:
    """Who posted, and the posted form (None if the body is not one)."""
    remote = request.client.host if request.client else ""
    try:
        return remote, parse_form(await request.body())
    except ValueError:
        return remote, None


@router.post("/events")
async def receive_event(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    remote, form = await _incoming(request)
    if form is None:
        return _error(400, "bad_request", "the body is not a form")
    event = form.get("event", "").upper()
    auth = nested(form, "auth")
    if not event:
        return _error(400, "bad_request", "no event name")

    async def handle(conn: AsyncConnection) -> Connection | None:
        connection = await _portal(conn, services, auth)
        if connection is None:
            return None
        if event in HINT_EVENTS:
            # A hint is not worth waiting for the disk: lost in a crash, the sweep finds its
            # deal anyway (as it finds those whose events never came). Events arrive one by
            # one, so this wait would be paid per event.
            await conn.execute(text("SET LOCAL synchronous_commit TO OFF"))
        if event in DEAL_EVENTS:
            raw_id = form.get("data[FIELDS][ID]", "")
            if raw_id.isdigit():
                await mark_dirty(conn, connection.portal_id, [int(raw_id)], event.lower())
                await defer_sync(conn, connection.portal_id)
        elif event in PRODUCT_EVENTS:
            raw_id = form.get("data[FIELDS][ID]", "")
            if raw_id.isdigit():
                await mark_stale(conn, connection.portal_id, [int(raw_id)])
        elif event in CONTACT_EVENTS:
            raw_id = form.get("data[FIELDS][ID]", "")
            if raw_id.isdigit():
                await mark_contacts(conn, connection.portal_id, [int(raw_id)])
                await defer_cards(conn, connection.portal_id)
        elif event == "ONAPPUNINSTALL":
            await mark_uninstalled(conn, connection.portal_id)
            services.event_portals.pop(connection.member_id, None)
        return connection

    connection = await run_in_transaction(services.engine, handle)
    if connection is None:
        await _reject(services, form, "application token does not match", remote)
        return _error(401, "invalid_application_token", "the event's application token is wrong")
    return JSONResponse({"ok": True})


KNOWN_FOR = 10.0  # seconds a portal found by an event is taken from memory


async def _portal(
    conn: AsyncConnection, services: Services, auth: dict[str, str]
) -> Connection | None:
    """The portal the event names, if its application token is right. One that sent events
    lately is taken from memory (events come in bursts: this saves a query per event); a
    token that does not match the remembered one is checked against the database."""
    member_id, token = auth.get("member_id", ""), auth.get("application_token")
    known = services.event_portals.get(member_id)
    if known and known[0] > time.monotonic() and known[1].token_matches(token):
        return known[1]
    connection = await find_connection(conn, member_id, auth.get("domain", ""))
    if connection is None or not connection.token_matches(token):
        return None
    await adopt_member_id(conn, connection, member_id)
    if connection.member_id == member_id and connection.status == "active":
        services.event_portals[member_id] = (time.monotonic() + KNOWN_FOR, connection)
    return connection


async def _verify_install(http: httpx.AsyncClient, auth: dict[str, str]) -> bool:
    """Ask the portal itself whether the token it just gave us works (reference §1.3)."""
    endpoint = auth.get("client_endpoint") or f"https://{auth.get('domain', '')}/rest/"
    try:
        answer = await http.post(
            f"{endpoint}app.info.json", json={"auth": auth.get("access_token", "")}, timeout=10
        )
        body: Any = answer.json()
    except (httpx.HTTPError, ValueError):
        return False
    return answer.status_code == 200 and isinstance(body, dict) and "result" in body


@router.post("/install")
async def install(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    remote, form = await _incoming(request)
    if form is None:
        return _error(400, "bad_request", "the body is not a form")
    auth = nested(form, "auth")
    if form.get("event", "").upper() not in ("ONAPPINSTALL", ""):
        return _error(400, "bad_request", "expected ONAPPINSTALL")
    if services.http is None:
        services.http = httpx.AsyncClient(timeout=services.settings.b24_timeout)
    if not await _verify_install(services.http, auth):
        await _reject(services, form, "install token not accepted by the portal", remote)
        return _error(401, "install_not_verified", "the portal did not confirm this installation")
    try:
        connection = await run_in_transaction(
            services.engine, lambda conn: install_app(conn, dict(auth), services.now())
        )
    except InvalidCommand as exc:
        return _error(422, exc.code, exc.message)
    log.info("installed on portal %s (%s)", connection.portal_id, connection.domain)
    return JSONResponse({"ok": True, "portal_id": connection.portal_id})
