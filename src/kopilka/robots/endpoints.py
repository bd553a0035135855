"""``POST /b24/robot``: the portal's queue server runs one of Kopilka's robots or activities
(reference §11.2).

Verified as ``/b24/events`` is: ``auth[member_id]`` names a portal installed as an application
(robots exist only there), whose stored ``application_token`` must equal ``auth[application_token]``
(constant time). Anything else gets 401, is recorded within bounds
(:mod:`kopilka.bitrix24.rejections`) and changes nothing. Nothing the request names is called
(``client_endpoint``, ``domain``) and its tokens are never used: the answer goes through the
portal's stored connection. Every field is checked and capped before anything is read.

The call is recorded and its job deferred in one transaction, and the portal gets 200 at once
(the queue server does not wait long). The same ``event_token`` posted again is the same call.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24.connections import Connection, find_connection
from kopilka.bitrix24.rejections import record_rejection
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import BIGINT_MAX
from kopilka.process.services import Services
from kopilka.robots.queries import Incoming, record_call
from kopilka.web.forms import nested, parse_form

router = APIRouter(prefix="/b24", tags=["bitrix24"])

_TOKEN = re.compile(r"[\x21-\x7e]{1,512}")
_CODE = re.compile(r"[a-zA-Z0-9._-]{1,64}")
_DOCUMENT = re.compile(r"[A-Z][A-Z0-9_]{0,39}_([0-9]{1,19})")
_PROPERTY = re.compile(r"[a-zA-Z][a-zA-Z0-9_]{0,63}")
MAX_PROPERTIES = 20
MAX_VALUE = 2000


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _id(raw: str) -> int | None:
    if raw == "":
        return None
    if not re.fullmatch(r"[0-9]{1,19}", raw) or not 0 < int(raw) <= BIGINT_MAX:
        raise ValueError("auth[user_id] is not an id")
    return int(raw)


def parse_call(form: dict[str, str]) -> Incoming:
    """The call as the handler takes it; ValueError naming the first field that is wrong."""
    token = form.get("event_token", "")
    if not _TOKEN.fullmatch(token):
        raise ValueError("event_token is missing or not a token")
    code = form.get("code", "")
    if not _CODE.fullmatch(code):
        raise ValueError("code is missing or not a robot code")
    if form.get("document_id[0]") != "crm":
        raise ValueError("document_id is not a CRM document")
    document = form.get("document_id[2]", "")
    found = _DOCUMENT.fullmatch(document)
    if found is None or not 0 < int(found.group(1)) <= BIGINT_MAX:
        raise ValueError("document_id[2] is not a document like DEAL_5")
    properties = nested(form, "properties")
    if len(properties) > MAX_PROPERTIES:
        raise ValueError(f"more than {MAX_PROPERTIES} properties")
    for key, value in properties.items():
        if not _PROPERTY.fullmatch(key) or len(value) > MAX_VALUE:
            raise ValueError(f"property {key[:64]!r} is not a property or too long")
    return Incoming(
        event_token=token,
        code=code,
        document=document,
        user_id=_id(nested(form, "auth").get("user_id", "")),
        properties=properties,
        subscribed=form.get("use_subscription", "Y").upper() != "N",
    )


async def verify(conn: AsyncConnection, auth: dict[str, str]) -> Connection | str:
    """The portal the call names, if it is an installed app and the token is its own; else why
    not (the true reason, for the log and the record: the sender learns no more)."""
    member_id, token = auth.get("member_id", ""), auth.get("application_token")
    if not member_id or member_id.startswith("domain:") or len(member_id) > 64:
        return f"the robot call names no portal (auth[member_id] {member_id[:64]!r})"
    connection = await find_connection(conn, member_id, "")
    if connection is None:
        return f"no connected portal has member_id {member_id!r}"
    if connection.mode != "app":
        return f"portal {connection.portal_id} is connected by a webhook: it has no robots"
    if connection.status != "active":
        return f"portal {connection.portal_id} is {connection.status}"
    if not token:
        return f"no application token (portal {connection.portal_id})"
    if not connection.token_matches(token):
        return f"the application token does not match portal {connection.portal_id}'s"
    return connection


@router.post("/robot")
async def robot_call(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    remote = request.client.host if request.client else ""
    try:
        form = parse_form(await request.body())
        call = parse_call(form)
    except ValueError as exc:
        return _error(400, "bad_request", str(exc))
    auth = nested(form, "auth")

    async def handle(conn: AsyncConnection) -> str | None:
        connection = await verify(conn, auth)
        if isinstance(connection, str):
            return connection
        await record_call(conn, connection.portal_id, call)
        return None

    refused = await run_in_transaction(services.engine, handle)
    if refused is not None:
        await record_rejection(
            services.engine,
            services.rejections,
            member_id=auth.get("member_id", ""),
            event=f"robot:{call.code}",
            reason=refused,
            remote=remote,
        )
        return _error(401, "invalid_application_token", "the robot call could not be verified")
    return JSONResponse({"ok": True})
