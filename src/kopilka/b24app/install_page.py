"""``POST /b24/app/install``: the "Initial installation path" of the local (or Market) app with
a UI (reference §1.2.4, §1.2.5 B). In one pass: the install proven and stored, events,
placements and robots bound (fields too when a program is there), and a page that calls
``BX24.installFinish()`` (``static/install.js``). A refused install shows the reason and calls
nothing; running the installer again (an app update drops the bindings) is harmless."""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.b24app.frames import form_of, refused, render
from kopilka.b24app.install_service import admin_user, claim_of, set_up
from kopilka.b24app.schemas import Frame, FrameRefused
from kopilka.b24app.sessions import open_session
from kopilka.bitrix24.connections import Connection, InstallConflict, install_app
from kopilka.bitrix24.errors import B24Error
from kopilka.bitrix24.install import InstallRefused, installing_admin, prove_installation
from kopilka.bitrix24.rejections import record_rejection
from kopilka.cabinet.web import services_of
from kopilka.db.engine import run_in_transaction

log = logging.getLogger("kopilka.b24app.install")
router = APIRouter()


@router.post("/b24/app/install", response_class=HTMLResponse)
async def install_page(request: Request) -> HTMLResponse:
    services = services_of(request)
    remote = request.client.host if request.client else ""
    lang = "en" if request.query_params.get("LANG", "").lower() == "en" else "ru"
    form: dict[str, str] = {}
    if services.http is None:
        services.http = httpx.AsyncClient(timeout=services.settings.b24_timeout)
    try:
        form = await form_of(request)
        proven = await prove_installation(services.http, services.settings, claim_of(form))
        profile = await installing_admin(services.http, proven, services.settings.b24_timeout)

        async def store(conn: AsyncConnection) -> tuple[Connection, Frame]:
            connection = await install_app(conn, proven, services.now())
            user = admin_user(connection, profile, lang)
            ttl = timedelta(seconds=services.settings.b24_frame_session_ttl)
            sid = await open_session(
                conn, user, services.now(), ttl, placement="DEFAULT", entity_id=None
            )
            return connection, Frame(user=user, session=sid, placement="DEFAULT", entity_id=None)

        connection, frame = await run_in_transaction(services.engine, store)
    except (FrameRefused, InstallRefused, InstallConflict) as exc:
        status = exc.status if isinstance(exc, FrameRefused | InstallRefused) else 409
        log.warning("install refused: %s (from %s)", exc.message, remote)
        await record_rejection(
            services.engine,
            services.rejections,
            member_id=form.get("member_id", ""),
            event="INSTALLER",
            reason=exc.message,
            remote=remote,
        )
        return refused(request, FrameRefused(exc.message, status=status))
    services.event_portals.pop(connection.member_id, None)
    log.info("installed on portal %s (%s)", connection.portal_id, connection.domain)
    try:
        done, program = await set_up(services, connection, services.now())
    except B24Error as exc:  # stored, not bound: the page says so and does not finish
        log.warning("install on portal %s not bound: %s", connection.portal_id, exc)
        return await render(
            request, frame, "install.html", {"done": None, "error": exc.message}, status=502
        )
    context = {"done": done, "program": program, "error": None}
    return await render(request, frame, "install.html", context)
