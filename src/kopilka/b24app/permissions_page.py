"""«Кто что может»: the page where a portal administrator sets how much managers may grant by
hand (R-11). Reached from the settings page with the page's session (``POST
/b24/app/permissions`` with ``sid``) or opened as a placement; only an administrator may open it
or change anything.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.b24app.contact_grant import Notice, points_word, typed_number
from kopilka.b24app.frames import open_frame, refused, render
from kopilka.b24app.permissions import PERIODS, granter_id, limits, remove_limit, set_limit
from kopilka.b24app.schemas import Frame, FrameRefused
from kopilka.b24app.texts import translator
from kopilka.cabinet.web import services_of
from kopilka.db.engine import run_in_transaction
from kopilka.domain.errors import KopilkaError
from kopilka.domain.manual import period_start
from kopilka.domain.money import to_minor
from kopilka.ledger.grants import granted_by
from kopilka.lifecycle.service import NoProgram, active_program
from kopilka.process.services import Services
from kopilka.program.policies import GrantPeriod

router = APIRouter()


async def _admin(request: Request) -> tuple[Frame, dict[str, str]]:
    frame, form = await open_frame(request, "DEFAULT")
    if not frame.user.is_admin:
        raise FrameRefused(
            "only the portal's administrator may set who may grant how much", status=403
        )
    return frame, form


async def _page(request: Request, frame: Frame, notice: Notice | None) -> HTMLResponse:
    services = services_of(request)
    now = services.now()
    rows: list[dict[str, Any]] = []
    async with services.engine.connect() as conn:
        try:
            book, program = await active_program(conn, frame.user.portal_id, now)
        except NoProgram:
            book = None
        for limit in await limits(conn, frame.user.portal_id):
            used = None
            if book is not None and limit.user_id is not None:
                since = period_start(GrantPeriod(kind=limit.period), now, program.tz)
                used = await granted_by(conn, book, granter_id(limit.user_id), since)
            rows.append({"limit": limit, "used": used})
    context = {"rows": rows, "periods": PERIODS, "notice": notice, "points_word": points_word}
    status = 200 if notice is None or notice.ok else 422
    return await render(request, frame, "permissions.html", context, status=status)


@router.post("/b24/app/permissions", response_class=HTMLResponse)
async def permissions_page(request: Request) -> HTMLResponse:
    try:
        frame, _form = await _admin(request)
    except FrameRefused as exc:
        return refused(request, exc)
    return await _page(request, frame, None)


async def _save(services: Services, frame: Frame, form: dict[str, str]) -> Notice:
    t = translator(frame.user.lang)
    who = form.get("who", "").strip()
    if who != "manager" and not re.fullmatch(r"[0-9]{1,12}", who):
        return Notice(False, t("limit_bad_who"))
    try:
        raw = typed_number(form.get("max_total", ""))
        max_total = to_minor(raw, allow_zero=True)
    except KopilkaError:
        return Notice(False, t("limit_bad_amount"))

    async def unit(conn: AsyncConnection) -> None:
        await set_limit(
            conn,
            frame.user.portal_id,
            user_id=None if who == "manager" else int(who),
            user_name=form.get("user_name", ""),
            max_total=max_total,
            period=form.get("period", ""),
            actor=frame.user.actor,
            now=services.now(),
        )

    try:
        await run_in_transaction(services.engine, unit)
    except KopilkaError as exc:
        return Notice(False, exc.message)
    return Notice(True, t("limit_saved"))


@router.post("/b24/app/permissions/save", response_class=HTMLResponse)
async def permissions_save(request: Request) -> HTMLResponse:
    try:
        frame, form = await _admin(request)
    except FrameRefused as exc:
        return refused(request, exc)
    return await _page(request, frame, await _save(services_of(request), frame, form))


@router.post("/b24/app/permissions/remove", response_class=HTMLResponse)
async def permissions_remove(request: Request) -> HTMLResponse:
    try:
        frame, form = await _admin(request)
    except FrameRefused as exc:
        return refused(request, exc)
    services = services_of(request)
    raw = form.get("limit_id", "")
    limit_id = int(raw) if re.fullmatch(r"[0-9]{1,18}", raw) else 0

    async def unit(conn: AsyncConnection) -> bool:
        return await remove_limit(conn, frame.user.portal_id, limit_id, actor=frame.user.actor)

    gone = await run_in_transaction(services.engine, unit)
    t = translator(frame.user.lang)
    return await _page(request, frame, Notice(gone, t("limit_removed" if gone else "limit_gone")))
