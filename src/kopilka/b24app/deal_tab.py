"""The «Бонусы» tab on a deal's card (``CRM_DEAL_DETAIL_TAB``): each contact of the deal with
its balance, offers and the most it may pay (:mod:`kopilka.bitrix24.deal_view`), and a form per
contact to pay with points and apply its discounts (:mod:`kopilka.bitrix24.deal_ask`)."""

from __future__ import annotations

import re
import secrets
from decimal import Decimal, InvalidOperation

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.b24app.frames import open_frame, refused, render
from kopilka.b24app.schemas import Frame, FrameRefused
from kopilka.b24app.texts import translator
from kopilka.bitrix24.deal_ask import Asked, AskRefused, ask
from kopilka.bitrix24.deal_view import DealNotShown, deal_view
from kopilka.cabinet.web import services_of
from kopilka.db.engine import run_in_transaction
from kopilka.domain.money import format_points

router = APIRouter()
PLACEMENT = "CRM_DEAL_DETAIL_TAB"
NUMBER = re.compile(r"\s*[0-9]{1,9}([.,][0-9]{1,2})?\s*")


@router.post("/b24/app/deal", response_class=HTMLResponse)
async def deal_tab(request: Request) -> HTMLResponse:
    try:
        frame, _form = await open_frame(request, PLACEMENT)
    except FrameRefused as exc:
        return refused(request, exc)
    if frame.entity_id is None:
        return refused(request, FrameRefused("the tab names no deal", status=400))
    return await page(request, frame)


@router.post("/b24/app/deal/ask", response_class=HTMLResponse)
async def deal_ask(request: Request) -> HTMLResponse:
    """One contact's form: the points to pay and each discount's percent."""
    try:
        frame, form = await open_frame(request, PLACEMENT)
        if frame.entity_id is None:
            raise FrameRefused("the tab names no deal", status=400)
    except FrameRefused as exc:
        return refused(request, exc)
    t = translator(frame.user.lang)
    try:
        contact_id, points, discounts = read_form(form)
    except ValueError as exc:
        return await page(request, frame, error=t(str(exc)), status=400)
    services = services_of(request)
    deal_id = frame.entity_id

    async def work(conn: AsyncConnection) -> Asked:
        return await ask(
            conn,
            frame.user.portal_id,
            deal_id,
            contact_id,
            points=points,
            discounts=discounts,
            actor=frame.user.actor,
            key=form.get("key", ""),
            now=services.now(),
        )

    try:
        asked = await run_in_transaction(services.engine, work)
    except AskRefused as exc:
        values = dict(exc.values)
        for name in ("cap", "step"):
            if name in values:
                values[name] = format_points(values[name])
        return await page(request, frame, error=t("ask." + exc.reason, **values), status=422)
    except DealNotShown as exc:
        return await page(request, frame, error=t("deal." + exc.reason), status=409)
    return await page(request, frame, notice=t("asked", points=asked.points))


def read_form(form: dict[str, str]) -> tuple[int, int, dict[str, Decimal]]:
    """(contact id, kopecks of points, discount id -> percent); ValueError names the text key
    of what is wrong."""
    raw = form.get("contact", "")
    if not re.fullmatch(r"[0-9]{1,18}", raw) or int(raw) <= 0:
        raise ValueError("form.contact")
    points = _number(form.get("points", ""), "form.points")
    discounts = {
        name.removeprefix("discount_"): _number(value, "form.percent")
        for name, value in form.items()
        if name.startswith("discount_") and re.fullmatch(r"discount_[A-Za-z0-9_-]{1,64}", name)
    }
    return int(raw), int(points * 100), discounts


def _number(raw: str, error: str) -> Decimal:
    if not raw.strip():
        return Decimal(0)
    if not NUMBER.fullmatch(raw):
        raise ValueError(error)
    try:
        return Decimal(raw.strip().replace(",", "."))
    except InvalidOperation:
        raise ValueError(error) from None


async def page(
    request: Request,
    frame: Frame,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    services = services_of(request)
    assert frame.entity_id is not None
    async with services.engine.connect() as conn:
        try:
            view = await deal_view(conn, frame.user.portal_id, frame.entity_id, services.now())
            missing = None
        except DealNotShown as exc:
            view, missing = None, exc.reason
    context = {
        "view": view,
        "missing": missing,
        "notice": notice,
        "error": error,
        "key": secrets.token_urlsafe(18),  # a fresh key per page: a form sent twice counts once
    }
    return await render(request, frame, "deal.html", context, status=status)
