"""The application's own page in the portal (placement ``DEFAULT``): its settings, for the
portal's administrators — the connection's health, the program (in force, history, a new file
checked, previewed and applied: :mod:`.settings_actions`), provisioning, and the way to «who
may do what». Anyone else sees a read-only summary."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from kopilka.b24app.frames import open_frame, refused, render
from kopilka.b24app.schemas import Frame, FrameRefused
from kopilka.b24app.settings_program import MAX_FILE, lineage
from kopilka.b24app.settings_status import portal_status
from kopilka.cabinet.web import services_of
from kopilka.lifecycle.queries import version

router = APIRouter()


@router.post("/b24/app", response_class=HTMLResponse)
async def app_page(request: Request) -> HTMLResponse:
    try:
        frame, _form = await open_frame(request, "DEFAULT")
    except FrameRefused as exc:
        return refused(request, exc)
    return await show(request, frame)


async def show(request: Request, frame: Frame, *, status: int = 200, **shown: Any) -> HTMLResponse:
    """The page as it stands, with what an action has to say (``notice``, ``error``, the
    ``checked`` file and its ``preview``, ``provisioned``)."""
    services = services_of(request)
    async with services.engine.connect() as conn:
        state = await portal_status(conn, frame.user.portal_id)
        versions = await lineage(conn, frame.user.portal_id, services.now())
        current = versions.current
        zone: tzinfo = UTC
        if current is not None:
            zone = (await version(conn, current.program_id, current.hash)).tz

    def at(moment: datetime | None) -> str:
        """A moment as the program's calendar reads it (its time zone)."""
        return moment.astimezone(zone).strftime("%d.%m.%Y %H:%M") if moment else ""

    context = {
        "at": at,
        "zone": str(zone),
        "state": state,
        "lineage": versions,
        "max_file": MAX_FILE // 1024,
        "notice": None,
        "error": None,
        "checked": None,
        "preview": None,
        "provisioned": None,
        "switched": None,
        **shown,
    }
    return await render(request, frame, "app.html", context, status=status)
