"""The application's own page in the portal (placement ``DEFAULT``): its settings."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from kopilka.b24app.frames import open_frame, refused, render
from kopilka.b24app.schemas import FrameRefused
from kopilka.cabinet.web import services_of
from kopilka.lifecycle.service import NoProgram, active_program

router = APIRouter()


@router.post("/b24/app", response_class=HTMLResponse)
async def app_page(request: Request) -> HTMLResponse:
    try:
        frame, _form = await open_frame(request, "DEFAULT")
    except FrameRefused as exc:
        return refused(request, exc)
    services = services_of(request)
    async with services.engine.connect() as conn:
        try:
            _book, program = await active_program(conn, frame.user.portal_id, services.now())
            name: str | None = program.title
        except NoProgram:
            name = None
    return await render(request, frame, "app.html", {"program": name})
