"""Rendering an admin page: the person's language (or the program's), their portals, the CSRF
token, and the security headers the cabinet's pages have (``cabinet.web.finish``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.admin.auth import AdminSession
from kopilka.admin.i18n import action_name, pick, translator
from kopilka.api.portal import current_program
from kopilka.cabinet import i18n as cabinet_i18n
from kopilka.cabinet.web import HERE as CABINET
from kopilka.cabinet.web import csrf_token, environment, finish
from kopilka.domain.errors import KopilkaError

env = environment(Path(__file__).parent / "templates", CABINET / "templates")
#: For a page rendered without :func:`page` (``cabinet.web.render`` with this ``env``): the nav
#: finds the admin's words by the page's ``lang``.
env.globals["admin_words"] = translator


async def locale_of(conn: AsyncConnection, portal_id: int) -> str | None:
    try:
        _book, program = await current_program(conn, portal_id)
    except KopilkaError:
        return None
    return program.locale


def page(
    request: Request,
    session: AdminSession | None,
    template: str,
    context: dict[str, Any],
    *,
    locale: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    lang = pick(request, locale)
    html = env.get_template(template).render(
        request=request,
        lang=lang,
        a=translator(lang),
        t=cabinet_i18n.translator(lang),
        action_name=lambda x: action_name(lang, x),
        csrf=csrf_token(request),
        me=session,
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    finish(request, response)
    return response


def to_login() -> RedirectResponse:
    return RedirectResponse("/admin/login", status_code=303)


def back(path: str, note: str = "") -> RedirectResponse:
    """After a POST: the page again (``note``: what to say on it)."""

    return RedirectResponse(
        path + (f"?{urlencode({'note': note})}" if note else ""), status_code=303
    )
