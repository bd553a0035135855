"""What a portal administrator does on the app page: check and preview a program file, apply
it from a moment (the Bitrix24 user recorded as who applied it), provision the portal again.
Each is a form of the page (its session in ``sid``); anyone but an administrator is refused
and nothing changes."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.datastructures import UploadFile

from kopilka.b24app.app_page import show
from kopilka.b24app.frames import open_frame, refused
from kopilka.b24app.install_service import provision_program, set_up
from kopilka.b24app.schemas import Frame, FrameRefused
from kopilka.b24app.settings_program import MAX_FILE, carried, check, moment, preview
from kopilka.bitrix24.connections import get_connection
from kopilka.bitrix24.errors import B24Error
from kopilka.bitrix24.offline.delivery import DeliveryChange, set_delivery
from kopilka.cabinet.web import services_of
from kopilka.db.engine import run_in_transaction
from kopilka.domain.errors import InvalidCommand
from kopilka.lifecycle.schemas import Applied
from kopilka.lifecycle.service import NoProgram, active_program, apply_program

log = logging.getLogger("kopilka.b24app.settings")
router = APIRouter()


async def _admin(request: Request) -> tuple[Frame, dict[str, str]]:
    frame, form = await open_frame(request, "DEFAULT")
    if not frame.user.is_admin:
        raise FrameRefused("only a portal administrator changes the settings", status=403)
    return frame, form


@router.post("/b24/app/program/check", response_class=HTMLResponse)
async def check_program(request: Request) -> HTMLResponse:
    try:
        frame, _form = await _admin(request)
    except FrameRefused as exc:
        return refused(request, exc)
    upload = (await request.form()).get("file")
    if not isinstance(upload, UploadFile):
        return await show(request, frame, status=400, error="no_file")
    checked = check(await upload.read(MAX_FILE + 1), upload.filename or "")
    if checked.program is None:
        return await show(request, frame, status=422, checked=checked)
    services = services_of(request)
    async with services.engine.connect() as conn:
        seen = await preview(
            conn, frame.user.portal_id, checked.program, checked.source, services.now()
        )
    return await show(request, frame, checked=checked, preview=seen)


@router.post("/b24/app/program/apply", response_class=HTMLResponse)
async def apply(request: Request) -> HTMLResponse:
    try:
        frame, form = await _admin(request)
    except FrameRefused as exc:
        return refused(request, exc)
    checked = check(carried(form.get("source", "")), form.get("name", ""))
    program = checked.program
    if program is None or program.hash != form.get("hash"):
        # not the file the administrator previewed: nothing is applied
        return await show(request, frame, status=400, checked=checked, error="not_previewed")
    services = services_of(request)
    now = services.now()
    try:
        start = moment(form.get("active_from", ""), program)

        async def unit(conn: AsyncConnection) -> Applied:
            return await apply_program(
                conn,
                frame.user.portal_id,
                program,
                checked.source,
                actor=frame.user.actor,
                now=now,
                active_from=start,
            )

        applied = await run_in_transaction(services.engine, unit)
    except InvalidCommand as exc:
        return await show(request, frame, status=400, checked=checked, error=exc.message)
    portal_id = frame.user.portal_id
    log.info(
        "program %s applied on portal %s by %s", applied.hash[:12], portal_id, frame.user.actor
    )
    async with services.engine.connect() as conn:
        connection = await get_connection(conn, frame.user.portal_id)
    try:
        done = await provision_program(services, connection, program, now)
    except B24Error as exc:  # applied; the fields wait for «provision again»
        return await show(request, frame, notice=applied, error=exc.message)
    return await show(request, frame, notice=applied, provisioned=done)


@router.post("/b24/app/provision", response_class=HTMLResponse)
async def provision_again(request: Request) -> HTMLResponse:
    try:
        frame, _form = await _admin(request)
    except FrameRefused as exc:
        return refused(request, exc)
    services = services_of(request)
    async with services.engine.connect() as conn:
        connection = await get_connection(conn, frame.user.portal_id)
    try:
        done, _title = await set_up(services, connection, services.now())
    except B24Error as exc:
        return await show(request, frame, status=502, error=exc.message)
    return await show(request, frame, provisioned=done)


@router.post("/b24/app/delivery", response_class=HTMLResponse)
async def switch_delivery(request: Request) -> HTMLResponse:
    """Events online (Bitrix24 posts them) or offline (Kopilka reads the portal's queue: a
    server Bitrix24 cannot reach), as ``kopilka portal events`` switches them."""
    try:
        frame, form = await _admin(request)
    except FrameRefused as exc:
        return refused(request, exc)
    services = services_of(request)
    settings = services.settings

    async def unit(conn: AsyncConnection) -> DeliveryChange:
        connection = await get_connection(conn, frame.user.portal_id)
        _book, program = await active_program(conn, connection.portal_id, services.now())
        return await set_delivery(
            conn,
            services.client_for(connection),
            connection,
            program,
            form.get("mode", ""),
            settings.public_url.rstrip("/") + "/b24/events",
            now=services.now(),
            signal_seconds=settings.b24_offline_signal_seconds,
        )

    try:
        change = await run_in_transaction(services.engine, unit)
    except (InvalidCommand, NoProgram, B24Error) as exc:
        return await show(request, frame, status=400, error=exc.message)
    return await show(request, frame, switched=change.mode)
