"""The «Бонусы» tab on a deal's card (``CRM_DEAL_DETAIL_TAB``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from kopilka.b24app.frames import open_frame, refused, render
from kopilka.b24app.schemas import FrameRefused

router = APIRouter()
PLACEMENT = "CRM_DEAL_DETAIL_TAB"


@router.post("/b24/app/deal", response_class=HTMLResponse)
async def deal_tab(request: Request) -> HTMLResponse:
    try:
        frame, _form = await open_frame(request, PLACEMENT)
    except FrameRefused as exc:
        return refused(request, exc)
    if frame.entity_id is None:
        return refused(request, FrameRefused("the tab names no deal", status=400))
    return await render(request, frame, "deal.html", {})
