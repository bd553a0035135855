"""The doors Bitrix24 knocks on: ``POST /b24/events`` and ``POST /b24/install``.

An event is verify → record the hint → defer the sync, in one transaction, and answer at once
(STYLE 12; Bitrix24 does not wait long and never retries). The transaction does not wait for the
disk (``synchronous_commit`` off): a hint lost in a crash is found again by the sweep. What each
event hints is :mod:`kopilka.bitrix24.handling`, shared with the offline queue's reader
(:mod:`kopilka.bitrix24.offline`); ``ONOFFLINEEVENT`` has that reader run at once.

The portal is the one ``auth[member_id]`` names (a webhook portal that has not learnt it yet: by
``auth[domain]``, compared normalised — an on-premise portal's ``host:port`` is its host). The
event's ``auth[application_token]`` must match the one stored for the portal (from
ONAPPINSTALL, or the outgoing webhook's token given to ``kopilka connect``); a forged one, or an
event of a portal not connected, gets 401, is recorded in ``b24_rejected_events`` and logged with
its true reason (without the token, and within the bounds of :mod:`kopilka.bitrix24.rejections`),
and queues nothing. An id that is not ASCII digits within BIGINT gets 400 before anything is read
or written.

An install is believed only once Bitrix24's OAuth server vouches for it
(:mod:`kopilka.bitrix24.install`); nothing a request names is ever called.
"""

from __future__ import annotations

import logging
import time

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24.connections import (
    Connection,
    InstallConflict,
    adopt_member_id,
    find_connection,
    install_app,
    mark_uninstalled,
)
from kopilka.bitrix24.domains import normal_domain
from kopilka.bitrix24.handling import HINT_EVENTS, apply_event, parse_id
from kopilka.bitrix24.install import InstallRefused, prove_installation
from kopilka.bitrix24.offline.deferred import SIGNAL_EVENT, defer_offline
from kopilka.bitrix24.rejections import record_rejection
from kopilka.db.engine import run_in_transaction
from kopilka.process.services import Services
from kopilka.web.forms import nested, parse_form

log = logging.getLogger("kopilka.bitrix24.events")
router = APIRouter(prefix="/b24", tags=["bitrix24"])


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def _reject(services: Services, form: dict[str, str], reason: str, remote: str) -> None:
    await record_rejection(
        services.engine,
        services.rejections,
        member_id=nested(form, "auth").get("member_id", ""),
        event=form.get("event", ""),
        reason=reason,
        remote=remote,
    )


def entity_id(form: dict[str, str]) -> int | None:
    """``data[FIELDS][ID]``: None when absent; ASCII digits within BIGINT, else ValueError."""
    return parse_id(form.get("data[FIELDS][ID]"))


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
    try:
        item_id = entity_id(form)
    except ValueError as exc:
        return _error(400, "bad_request", str(exc))

    async def handle(conn: AsyncConnection) -> Connection | str:
        connection = await _portal(conn, services, auth)
        if isinstance(connection, str):
            return connection
        if event in HINT_EVENTS:
            # A hint is not worth waiting for the disk: lost in a crash, the sweep finds its
            # deal anyway (as it finds those whose events never came). Events arrive one by
            # one, so this wait would be paid per event.
            await conn.execute(text("SET LOCAL synchronous_commit TO OFF"))
        if event == "ONAPPUNINSTALL":
            await mark_uninstalled(conn, connection.portal_id)
            services.event_portals.pop(connection.member_id, None)
        elif event == SIGNAL_EVENT:  # the portal's offline queue has records: read it now
            await defer_offline(conn, connection.portal_id)
        else:
            await apply_event(conn, connection.portal_id, event, item_id)
        return connection

    connection = await run_in_transaction(services.engine, handle)
    if isinstance(connection, str):  # the true reason is logged; the sender learns no more
        await _reject(services, form, connection, remote)
        return _error(401, "invalid_application_token", "the event could not be verified")
    return JSONResponse({"ok": True})


KNOWN_FOR = 10.0  # seconds a portal found by an event is taken from memory


async def _portal(
    conn: AsyncConnection, services: Services, auth: dict[str, str]
) -> Connection | str:
    """The portal the event names (:func:`~kopilka.bitrix24.connections.find_connection`), if
    its application token is right; else why not. One that sent events lately is taken from
    memory (events come in bursts: this saves a query per event); a token that does not match
    the remembered one is checked against the database."""
    member_id, token = auth.get("member_id", ""), auth.get("application_token")
    if member_id.startswith("domain:"):  # Kopilka's own placeholder, never a portal's
        member_id = ""
    domain = auth.get("domain", "")
    known = services.event_portals.get(member_id) if member_id else None
    if known and known[0] > time.monotonic() and known[1].token_matches(token):
        return known[1]
    if not member_id and not normal_domain(domain):
        return "the event names no portal (no auth[member_id], no auth[domain])"
    connection = await find_connection(conn, member_id, domain)
    if connection is None:
        return f"no connected portal has member_id {member_id[:64]!r} or domain {domain[:100]!r}"
    if not token:
        return f"no application token (portal {connection.portal_id})"
    if not connection.token_matches(token):
        return f"the application token does not match portal {connection.portal_id}'s"
    await adopt_member_id(conn, connection, member_id)
    if connection.member_id == member_id and connection.status == "active":
        services.event_portals[member_id] = (time.monotonic() + KNOWN_FOR, connection)
    return connection


@router.post("/install")
async def install(request: Request) -> JSONResponse:
    """ONAPPINSTALL (reference §1.2.5), proven by Bitrix24's OAuth server (bitrix24.install)."""
    services: Services = request.app.state.services
    remote, form = await _incoming(request)
    if form is None:
        return _error(400, "bad_request", "the body is not a form")
    if form.get("event", "").upper() not in ("ONAPPINSTALL", ""):
        return _error(400, "bad_request", "expected ONAPPINSTALL")
    if services.http is None:
        services.http = httpx.AsyncClient(timeout=services.settings.b24_timeout)
    try:
        proven = await prove_installation(services.http, services.settings, nested(form, "auth"))
        connection = await run_in_transaction(
            services.engine, lambda conn: install_app(conn, proven, services.now())
        )
    except (InstallRefused, InstallConflict) as exc:
        await _reject(services, form, exc.message, remote)
        status = exc.status if isinstance(exc, InstallRefused) else 409
        return _error(status, exc.code, exc.message)
    services.event_portals.pop(connection.member_id, None)
    log.info("installed on portal %s (%s)", connection.portal_id, connection.domain)
    return JSONResponse({"ok": True, "portal_id": connection.portal_id})
