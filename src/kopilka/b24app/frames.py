"""What every page framed in the portal shares: reading the request into a :class:`Frame`,
the templates, and the headers that let only the portal frame the page.

A page is entered by the portal's POST (proven in :mod:`.auth`) and continued by the page's own
forms, which carry the session in a hidden ``sid`` field (or ``X-Kopilka-Session``): no cookie is
set — browsers block third-party cookies in frames — and a form without the session is refused,
so a forged cross-site form cannot act for a manager (the token is only ever in the page).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from kopilka.b24app.auth import enter, portal_origin, resume
from kopilka.b24app.schemas import Frame, FrameRefused
from kopilka.b24app.texts import translator
from kopilka.cabinet.web import environment, services_of

HERE = Path(__file__).parent
templates = environment(HERE / "templates")
static = StaticFiles(directory=HERE / "static")


async def form_of(request: Request) -> dict[str, str]:
    """The posted form's text fields (files are read by the page that takes one)."""
    try:
        form = await request.form(max_files=2, max_fields=200)
    except Exception:  # a malformed body: starlette raises several kinds
        raise FrameRefused("the body is not a form", status=400) from None
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _entity(form: dict[str, str]) -> int | None:
    raw = form.get("entity", "")
    if not raw:
        return None
    if not re.fullmatch(r"[0-9]{1,18}", raw) or int(raw) <= 0:
        raise FrameRefused("entity is not a record id", status=400)
    return int(raw)


async def open_frame(request: Request, placement: str) -> tuple[Frame, dict[str, str]]:
    """The framed page's user and form: the portal's first POST (``AUTH_ID``…) or a later
    request of the page carrying its session."""
    services = services_of(request)
    form = await form_of(request)
    sid = form.get("sid") or request.headers.get("x-kopilka-session", "")
    if sid:
        return await resume(services, sid, placement, _entity(form)), form
    remote = request.client.host if request.client else ""
    lang = "en" if request.query_params.get("LANG", "").lower() == "en" else "ru"
    frame = await enter(services, form, placement, lang, remote)
    return frame, form


def refused(request: Request, exc: FrameRefused) -> HTMLResponse:
    """A plain page with the reason: the manager sees why, the portal shows it in the tab."""
    html = templates.get_template("refused.html").render(message=exc.message, t=translator("ru"))
    response = HTMLResponse(html, status_code=exc.status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


async def render(
    request: Request, frame: Frame, template: str, context: dict[str, Any], *, status: int = 200
) -> HTMLResponse:
    services = services_of(request)
    settings = services.settings
    origin = await portal_origin(services, frame.user.portal_id)
    js = settings.b24_js_url
    js_origin = "{0.scheme}://{0.netloc}".format(urlsplit(js))
    html = templates.get_template(template).render(
        frame=frame,
        user=frame.user,
        sid=frame.session,
        t=translator(frame.user.lang),
        lang=frame.user.lang,
        bx24_js=js.rstrip("/") + "/",
        portal=origin,
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        f"script-src 'self' {js_origin}; form-action 'self'; frame-ancestors {origin}"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response
