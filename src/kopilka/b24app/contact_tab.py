"""The «Бонусы» tab on a contact's card (``CRM_CONTACT_DETAIL_TAB``): the contact's points, level,
card and ledger, and the forms to grant a manual bonus and to issue the card.

``POST /b24/app/contact`` is the portal's placement POST (or the page's own paging, with its
session); ``/b24/app/contact/grant`` and ``/b24/app/contact/card`` are the page's forms. Each
answers with the tab again, with what happened on top.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from kopilka.b24app.contact_grant import Notice, card_from_tab, grant_from_tab, points_word
from kopilka.b24app.contact_view import contact_page
from kopilka.b24app.frames import open_frame, refused, render
from kopilka.b24app.schemas import Frame, FrameRefused
from kopilka.cabinet.web import services_of
from kopilka.lifecycle.service import NoProgram, active_program

router = APIRouter()
PLACEMENT = "CRM_CONTACT_DETAIL_TAB"
Action = Callable[[Frame, dict[str, str]], Awaitable[Notice]]


def _before(form: dict[str, str]) -> int | None:
    raw = form.get("before", "")
    return int(raw) if re.fullmatch(r"[0-9]{1,18}", raw) else None


async def _tab(request: Request, action: Action | None = None) -> HTMLResponse:
    try:
        frame, form = await open_frame(request, PLACEMENT)
        if frame.entity_id is None:
            raise FrameRefused("the tab names no contact", status=400)
    except FrameRefused as exc:
        return refused(request, exc)
    notice = await action(frame, form) if action is not None else None
    services = services_of(request)
    now = services.now()
    async with services.engine.connect() as conn:
        try:
            book, program = await active_program(conn, frame.user.portal_id, now)
        except NoProgram:
            return await render(request, frame, "contact.html", {"program": None})
        page = await contact_page(
            conn, book, program, frame.user, frame.entity_id, now, before=_before(form)
        )
    # A refused grant keeps what the manager typed; a done one starts a fresh form.
    sent = form if notice is not None and not notice.ok else {}
    context = page | {
        "program": program,
        "notice": notice,
        "points_word": points_word,
        "sent": {k: sent.get(k, "")[:500] for k in ("reason", "amount", "comment")},
    }
    status = 200 if notice is None or notice.ok else 422
    return await render(request, frame, "contact.html", context, status=status)


@router.post("/b24/app/contact", response_class=HTMLResponse)
async def contact_tab(request: Request) -> HTMLResponse:
    return await _tab(request)


@router.post("/b24/app/contact/grant", response_class=HTMLResponse)
async def contact_grant(request: Request) -> HTMLResponse:
    services = services_of(request)

    async def grant(frame: Frame, form: dict[str, str]) -> Notice:
        return await grant_from_tab(services, frame, form)

    return await _tab(request, grant)


@router.post("/b24/app/contact/card", response_class=HTMLResponse)
async def contact_card(request: Request) -> HTMLResponse:
    services = services_of(request)

    async def card(frame: Frame, _form: dict[str, str]) -> Notice:
        return await card_from_tab(services, frame)

    return await _tab(request, card)
