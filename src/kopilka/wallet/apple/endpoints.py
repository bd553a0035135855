"""The PassKit web service (Apple's "Wallet Passes → Pass updates"; reference §1.6) under
``/wallet/apple/v1``, the pass behind a link, and the cabinet's «Добавить в Apple Wallet».

Every call about one pass proves itself with the pass's own token (``Authorization: ApplePass
<token>``, compared in constant time); a wrong one gets 401 and changes nothing."""

from __future__ import annotations

import hmac
import json
import logging
import re
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.cabinet.pages import signed_in
from kopilka.cabinet.web import services_of
from kopilka.db.engine import run_in_transaction
from kopilka.wallet.apple import queries
from kopilka.wallet.apple.pkpass import CONTENT_TYPE
from kopilka.wallet.apple.service import PREFIX, Apple, apple_of, pkpass_for, render

log = logging.getLogger("kopilka.wallet")

router = APIRouter(prefix=PREFIX, include_in_schema=False)
cabinet_router = APIRouter(include_in_schema=False)

_PUSH_TOKEN = re.compile(r"^[0-9a-fA-F]{16,200}$")
_LIBRARY_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
MAX_LOGS = 50


def _apple(request: Request) -> Apple | None:
    return apple_of(services_of(request).settings)


def _pkpass(data: bytes, row: queries.PassRow) -> Response:
    return Response(
        data,
        media_type=CONTENT_TYPE,
        headers={
            "Last-Modified": format_datetime(row.updated_at.astimezone(UTC), usegmt=True),
            "Content-Disposition": 'attachment; filename="card.pkpass"',
            "Cache-Control": "no-store",
        },
    )


async def _proven(
    request: Request, conn: AsyncConnection, apple: Apple, pass_type: str, serial: str
) -> queries.PassRow | None:
    """The pass, if the request carries its token; None (and a warning) otherwise."""
    given = request.headers.get("authorization", "")
    scheme, _, token = given.partition(" ")
    row = await queries.pass_by_serial(conn, serial) if len(serial) <= 64 else None
    expected = row.auth_token if row is not None else "-" * 43
    ok = hmac.compare_digest(token.strip().encode(), expected.encode())
    if row is None or not ok or scheme != "ApplePass" or pass_type != apple.identity.pass_type_id:
        log.warning("PassKit call refused: wrong pass or token (%s %s)", request.method, serial)
        return None
    return row


@router.post("/v1/devices/{library_id}/registrations/{pass_type}/{serial}")
async def register(request: Request, library_id: str, pass_type: str, serial: str) -> Response:
    apple = _apple(request)
    if apple is None:
        return Response(status_code=404)
    services = services_of(request)
    try:
        push_token = str(json.loads(await request.body())["pushToken"])
    except (ValueError, KeyError, TypeError):
        push_token = ""
    if not _PUSH_TOKEN.match(push_token) or not _LIBRARY_ID.match(library_id):
        async with services.engine.connect() as conn:
            if await _proven(request, conn, apple, pass_type, serial) is None:
                return Response(status_code=401)
        return Response("pushToken: hex expected", status_code=400)

    async def work(conn: AsyncConnection) -> int:
        row = await _proven(request, conn, apple, pass_type, serial)
        if row is None:
            return 401
        return 201 if await queries.register(conn, library_id, push_token, row.id) else 200

    return Response(status_code=await run_in_transaction(services.engine, work))


@router.delete("/v1/devices/{library_id}/registrations/{pass_type}/{serial}")
async def unregister(request: Request, library_id: str, pass_type: str, serial: str) -> Response:
    apple = _apple(request)
    if apple is None:
        return Response(status_code=404)

    async def work(conn: AsyncConnection) -> int:
        row = await _proven(request, conn, apple, pass_type, serial)
        if row is None:
            return 401
        await queries.unregister(conn, library_id, row.id)
        return 200

    return Response(status_code=await run_in_transaction(services_of(request).engine, work))


@router.get("/v1/devices/{library_id}/registrations/{pass_type}")
async def updated_serials(request: Request, library_id: str, pass_type: str) -> Response:
    apple = _apple(request)
    if apple is None:
        return Response(status_code=404)
    raw = request.query_params.get("passesUpdatedSince")
    since = int(raw) if raw is not None and raw.isdigit() and len(raw) < 19 else None
    async with services_of(request).engine.connect() as conn:
        serials, tag = await queries.serials_since(
            conn, library_id, pass_type == apple.identity.pass_type_id, since
        )
    if not serials:
        return Response(status_code=204)
    body = json.dumps({"serialNumbers": serials, "lastUpdated": str(tag)})
    return Response(body, media_type="application/json")


@router.get("/v1/passes/{pass_type}/{serial}")
async def latest_pass(request: Request, pass_type: str, serial: str) -> Response:
    apple = _apple(request)
    if apple is None:
        return Response(status_code=404)
    services = services_of(request)
    async with services.engine.connect() as conn:
        row = await _proven(request, conn, apple, pass_type, serial)
        if row is None:
            return Response(status_code=401)
        if _not_modified(request, row.updated_at):
            return Response(status_code=304)
        data = await render(conn, apple, row, services.now())
    return _pkpass(data, row)


def _not_modified(request: Request, updated_at: datetime) -> bool:
    since = request.headers.get("if-modified-since")
    if not since:
        return False
    try:
        when = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    return when.tzinfo is not None and updated_at <= when


@router.post("/v1/log")
async def device_log(request: Request) -> Response:
    try:
        logs = json.loads(await request.body()).get("logs", [])
    except (ValueError, AttributeError):
        logs = []
    for line in logs[:MAX_LOGS] if isinstance(logs, list) else []:
        log.info("Wallet device says: %s", str(line)[:300])
    return Response(status_code=200)


@router.get("/pass/{token}")
async def pass_by_link(request: Request, token: str) -> Response:
    """The pass behind a link sent by SMS or e-mail (expired or unknown: 404)."""
    apple = _apple(request)
    if apple is None or len(token) > 64:
        return Response(status_code=404)
    services = services_of(request)
    async with services.engine.connect() as conn:
        row = await queries.pass_by_link(conn, token, services.now())
        if row is None:
            return Response("Ссылка устарела или неверна", status_code=404)
        data = await render(conn, apple, row, services.now())
    return _pkpass(data, row)


@cabinet_router.get("/cabinet/wallet/apple")
async def cabinet_pass(request: Request) -> Response:
    """«Добавить в Apple Wallet»: the signed-in customer's own pass."""
    apple = _apple(request)
    if apple is None:
        return Response(status_code=404)
    services = services_of(request)
    now = services.now()
    async with services.engine.connect() as conn:
        who = await signed_in(request, conn, now)
    if isinstance(who, Response):
        return who
    portal_id, customer_id = who

    async def work(conn: AsyncConnection) -> tuple[bytes, queries.PassRow]:
        return await pkpass_for(conn, apple, portal_id, customer_id, now)

    data, row = await run_in_transaction(services.engine, work)
    return _pkpass(data, row)
