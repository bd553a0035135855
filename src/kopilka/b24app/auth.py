"""Proving who opened a page Kopilka shows inside the portal (reference §1.2.4, §1.3, §12.2).

Bitrix24 opens a placement (a CRM card tab, the app page) with a POST carrying the user's own
access token (``AUTH_ID``), the application token and the portal's ``member_id``. All of it is a
claim until proven:

1. the ``member_id`` must name a portal that installed this application (a stored connection,
   mode ``app``, active) and ``APPLICATION_TOKEN`` must be the one stored for it (constant time);
2. the user's token is then put to the portal itself — ``user.current`` and ``profile`` in one
   ``batch`` — at the **stored** ``client_endpoint`` (which Bitrix24's OAuth server named at the
   install), never at the ``DOMAIN`` or any URL the request names. A forged or foreign token is
   refused by the portal; the answer says who the user is and whether they are an administrator.

The user's token is never stored nor used for anything else; the page gets a session of its own
(:mod:`.sessions`). A refusal is recorded like a refused event (``bitrix24.rejections``).
"""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.b24app.schemas import AppUser, Frame, FrameRefused
from kopilka.b24app.sessions import open_session, session_of
from kopilka.bitrix24.connections import Connection, find_connection, get_connection
from kopilka.bitrix24.rejections import record_rejection
from kopilka.db.engine import run_in_transaction
from kopilka.process.services import Services

log = logging.getLogger("kopilka.b24app")
_TOKEN = re.compile(r"^[A-Za-z0-9._-]{8,256}$")
_MEMBER = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_PLACEMENT = re.compile(r"^[A-Z0-9_]{1,64}$")


def _truthy(value: Any) -> bool:
    return value is True or str(value).upper() in ("Y", "TRUE", "1")


def entity_of(options: str | None) -> int | None:
    """``PLACEMENT_OPTIONS`` is a JSON string; a CRM tab's names the record's ``ID``."""
    if not options:
        return None
    try:
        parsed = json.loads(options)
    except ValueError:
        raise FrameRefused("PLACEMENT_OPTIONS is not JSON", status=400) from None
    raw = parsed.get("ID") if isinstance(parsed, dict) else None
    if raw is None or raw == "":
        return None
    if not re.fullmatch(r"[0-9]{1,18}", str(raw)) or int(raw) <= 0:
        raise FrameRefused("PLACEMENT_OPTIONS names no record id", status=400)
    return int(raw)


#: the CRM record a tab shows, read with the user's own token: the portal applies the user's
#: access rights, so a tab is never opened on a record its user may not see
RECORD_READ = {"CRM_CONTACT_DETAIL_TAB": "crm.contact.get", "CRM_DEAL_DETAIL_TAB": "crm.deal.get"}


async def _whoami(
    services: Services, connection: Connection, auth_id: str, record: str | None
) -> dict[str, Any]:
    """The portal's own word on the token's user — ``user.current`` and ``profile`` — and,
    for a CRM tab, whether that user may read the record (``record``: the read command)."""
    assert connection.client_endpoint is not None
    if services.http is None:
        services.http = httpx.AsyncClient(timeout=services.settings.b24_timeout)
    form = {
        "auth": auth_id,
        "halt": "0",
        "cmd[user]": "user.current",
        "cmd[profile]": "profile",
    }
    if record:
        form["cmd[record]"] = record
    try:
        answer = await services.http.post(
            connection.client_endpoint + "batch", data=form, timeout=services.settings.b24_timeout
        )
        body = answer.json()
    except (httpx.HTTPError, ValueError):
        raise FrameRefused("the portal could not be asked who you are", status=503) from None
    if answer.status_code >= 500:
        raise FrameRefused("the portal is unavailable", status=503)
    if answer.status_code != 200 or not isinstance(body, dict) or "error" in body:
        raise FrameRefused("the portal did not accept the page's token")
    results = (body.get("result") or {}).get("result") or {}
    if not isinstance(results, dict):
        results = {}
    user = results.get("user") if isinstance(results.get("user"), dict) else {}
    profile = results.get("profile") if isinstance(results.get("profile"), dict) else {}
    if record and not isinstance(results.get("record"), dict):
        raise FrameRefused("the portal does not show you this record", status=403)
    return {"user": user, "profile": profile}


def _user_of(connection: Connection, said: dict[str, Any], lang: str) -> AppUser:
    user, profile = said["user"], said["profile"]
    ids = {str(x.get("ID", "")) for x in (user, profile) if x.get("ID") not in (None, "")}
    if len(ids) != 1 or not next(iter(ids)).isdigit():
        raise FrameRefused("the portal named no user for the page's token")
    if user and not _truthy(user.get("ACTIVE", True)):
        raise FrameRefused("the Bitrix24 user is not active", status=403)
    source = user or profile
    name = " ".join(str(source.get(k) or "").strip() for k in ("NAME", "LAST_NAME")).strip()
    return AppUser(
        portal_id=connection.portal_id,
        member_id=connection.member_id,
        user_id=int(next(iter(ids))),
        name=name or f"#{next(iter(ids))}",
        is_admin=_truthy(profile.get("ADMIN", False)),
        lang=lang,
    )


def _claims(form: dict[str, str]) -> tuple[str, str, str, str]:
    member_id = form.get("member_id", "")
    auth_id = form.get("AUTH_ID", "")
    app_token = form.get("APPLICATION_TOKEN", "")
    placement = form.get("PLACEMENT", "DEFAULT").upper() or "DEFAULT"
    if not _MEMBER.match(member_id):
        raise FrameRefused("the page names no valid member_id", status=400)
    if not _TOKEN.match(auth_id) or not _TOKEN.match(app_token):
        raise FrameRefused("the page lacks AUTH_ID or APPLICATION_TOKEN", status=400)
    if not _PLACEMENT.match(placement):
        raise FrameRefused("PLACEMENT is not a placement code", status=400)
    return member_id, auth_id, app_token, placement


async def _connection(services: Services, member_id: str, app_token: str) -> Connection:
    async with services.engine.connect() as conn:
        connection = await find_connection(conn, member_id, "")
    if connection is None or connection.mode != "app" or connection.status != "active":
        raise FrameRefused(f"no portal with member_id {member_id[:64]!r} installed this app")
    if not connection.token_matches(app_token):
        raise FrameRefused(f"the application token does not match portal {connection.portal_id}'s")
    return connection


async def enter(
    services: Services, form: dict[str, str], route: str, lang: str, remote: str
) -> Frame:
    """A placement's first POST to the page of placement ``route``, proven; a session opened
    for that page (and its record)."""
    try:
        member_id, auth_id, app_token, placement = _claims(form)
        if route != "DEFAULT" and placement != route:
            raise FrameRefused(f"this page is the {route} placement, not {placement}", status=400)
        entity = entity_of(form.get("PLACEMENT_OPTIONS"))
        if route in RECORD_READ and entity is None:
            raise FrameRefused("the tab names no record", status=400)
        record = f"{RECORD_READ[route]}?id={entity}" if route in RECORD_READ else None
        connection = await _connection(services, member_id, app_token)
        user = _user_of(connection, await _whoami(services, connection, auth_id, record), lang)
    except FrameRefused as exc:
        log.warning("framed page refused: %s (from %s)", exc.message, remote)
        await record_rejection(
            services.engine,
            services.rejections,
            member_id=form.get("member_id", ""),
            event=f"PLACEMENT:{form.get('PLACEMENT', '')[:40]}",
            reason=exc.message,
            remote=remote,
        )
        raise
    ttl = min(services.settings.b24_frame_session_ttl, _expires(form))

    async def unit(conn: AsyncConnection) -> str:
        return await open_session(
            conn,
            user,
            services.now(),
            timedelta(seconds=ttl),
            placement=route,
            entity_id=entity if route in RECORD_READ else None,
        )

    session = await run_in_transaction(services.engine, unit)
    return Frame(user=user, session=session, placement=route, entity_id=entity)


def _expires(form: dict[str, str]) -> int:
    raw = form.get("AUTH_EXPIRES", "")
    return max(60, int(raw)) if raw.isdigit() and len(raw) < 8 else 3600


async def resume(services: Services, sid: str, route: str, entity: int | None) -> Frame:
    """A later request of the same page: its session, still live. A CRM tab's session serves
    its own record on its own page only (the record was checked against the user's rights when
    the tab opened); the app's pages take any session of the user (they check the role)."""
    async with services.engine.connect() as conn:
        found = await session_of(conn, sid, services.now())
    if found is None:
        raise FrameRefused("the page's session has ended: reopen the tab")
    user, placement, record = found
    if route in RECORD_READ:
        if placement != route or (entity is not None and entity != record):
            raise FrameRefused("this session belongs to another page: reopen the tab", status=403)
        entity = record
    return Frame(user=user, session=sid, placement=route, entity_id=entity)


async def portal_origin(services: Services, portal_id: int) -> str:
    """``scheme://host[:port]`` of the portal (as stored) — the only page allowed to frame us."""
    async with services.engine.connect() as conn:
        connection = await get_connection(conn, portal_id)
    endpoint = connection.client_endpoint or f"https://{connection.domain}/"
    scheme, _, rest = endpoint.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"
