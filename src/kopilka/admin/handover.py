"""A portal administrator from Bitrix24 signs in to the admin as the portal's owner (issue 18).

On the app's page in the portal (proven by the portal: ``b24app.auth``) the administrator
presses a button that posts the page's own session (``sid``) to ``/admin/from-b24``. Kopilka
checks that session — never a Bitrix24 token, which it does not keep — and that its user is a
portal administrator, then hands over with a one-time token: random, only its hash stored, valid
``HANDOVER_TTL`` seconds, used once (``UPDATE … WHERE used_at IS NULL``). The browser lands on
``/admin/handover?token=…`` (a confirmation page: a link prefetcher spends nothing) and posts
it; the token finds or makes the owner user for that Bitrix24 user on that portal and opens an
admin session.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.admin import users
from kopilka.admin.auth import COOKIE, open_admin_session
from kopilka.admin.web import page
from kopilka.b24app.sessions import session_of
from kopilka.cabinet.web import cookie_flags, csrf_ok, finish, new_csrf, services_of
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import admin_handovers, portals
from kopilka.domain.errors import KopilkaError

router = APIRouter()
HANDOVER_TTL = 120


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@router.post("/from-b24")
async def from_b24(request: Request) -> Response:
    """The app page's button: the page session proves the user; an admin gets a one-time link."""
    services = services_of(request)
    form = await request.form()
    sid = str(form.get("sid") or "")[:100]
    now = services.now()

    async def unit(conn: AsyncConnection) -> str | None:
        found = await session_of(conn, sid, now)
        user = found[0] if found is not None else None
        if user is None or not user.is_admin:
            return None
        token = secrets.token_urlsafe(32)
        await conn.execute(
            insert(admin_handovers).values(
                token_hash=_hash(token),
                portal_id=user.portal_id,
                b24_user_id=user.user_id,
                user_name=user.name[:200],
                created_at=now,
                expires_at=now + timedelta(seconds=HANDOVER_TTL),
            )
        )
        return token

    token = await run_in_transaction(services.engine, unit)
    if token is None:
        return Response("only the portal's administrator signs in to the admin", status_code=403)
    return RedirectResponse(f"/admin/handover?token={token}", status_code=303)


@router.get("/handover")
async def handover_page(request: Request, token: str = "") -> Response:
    async with services_of(request).engine.connect() as conn:
        row = (
            await conn.execute(
                select(portals.c.member_id)
                .join(admin_handovers, admin_handovers.c.portal_id == portals.c.id)
                .where(
                    admin_handovers.c.token_hash == _hash(token[:100]),
                    admin_handovers.c.used_at.is_(None),
                    admin_handovers.c.expires_at > services_of(request).now(),
                )
            )
        ).first()
    context = {"token": token[:100], "portal": row.member_id if row else None}
    return page(request, None, "admin_handover.html", context, status=200 if row else 410)


@router.post("/handover")
async def handover(request: Request) -> Response:
    services = services_of(request)
    form = await request.form()
    if not csrf_ok(request, form):
        return Response("CSRF", status_code=403)
    token = str(form.get("token") or "")[:100]
    now = services.now()
    ttl = services.settings.admin_session_ttl

    async def unit(conn: AsyncConnection) -> str | None:
        h = admin_handovers.c
        row = (
            await conn.execute(
                update(admin_handovers)
                .where(h.token_hash == _hash(token), h.used_at.is_(None), h.expires_at > now)
                .values(used_at=now)
                .returning(h.portal_id, h.b24_user_id, h.user_name)
            )
        ).first()
        if row is None:
            return None
        user_id = await users.owner_from_b24(
            conn, int(row.portal_id), int(row.b24_user_id), row.user_name, now
        )
        return await open_admin_session(conn, user_id, int(row.portal_id), now, ttl)

    try:
        session = await run_in_transaction(services.engine, unit)
    except KopilkaError:
        session = None
    if session is None:
        return page(request, None, "admin_handover.html", {"token": "", "portal": None}, status=410)
    response = RedirectResponse("/admin/customers", status_code=303)
    response.set_cookie(COOKIE, session, path="/admin", max_age=ttl, **cookie_flags(request))
    new_csrf(request)
    finish(request, response)
    return response
