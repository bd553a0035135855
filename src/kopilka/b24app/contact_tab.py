"""The «Бонусы» tab on a contact's card (``CRM_CONTACT_DETAIL_TAB``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from kopilka.b24app.frames import open_frame, refused, render
from kopilka.b24app.schemas import FrameRefused
from kopilka.cabinet.web import services_of
from kopilka.domain.errors import NotFound
from kopilka.ledger.book import get_customer_id
from kopilka.ledger.queries import balance
from kopilka.lifecycle.service import NoProgram, active_program

router = APIRouter()
PLACEMENT = "CRM_CONTACT_DETAIL_TAB"


@router.post("/b24/app/contact", response_class=HTMLResponse)
async def contact_tab(request: Request) -> HTMLResponse:
    try:
        frame, _form = await open_frame(request, PLACEMENT)
    except FrameRefused as exc:
        return refused(request, exc)
    if frame.entity_id is None:
        return refused(request, FrameRefused("the tab names no contact", status=400))
    services = services_of(request)
    now = services.now()
    async with services.engine.connect() as conn:
        try:
            book, _program = await active_program(conn, frame.user.portal_id, now)
            customer = await get_customer_id(
                conn, frame.user.portal_id, f"contact:{frame.entity_id}"
            )
            shown = await balance(conn, book, customer, now)
        except (NoProgram, NotFound):
            shown = None
    return await render(request, frame, "contact.html", {"balance": shown})
