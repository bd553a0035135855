"""What every cabinet page shares: its templates, the shop it serves, the customer's session
(refused by every other shop), and a page rendered in the customer's language — the program's
locale unless the customer switched it — with points in the program's unit."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.cabinet import sessions
from kopilka.cabinet.i18n import pick_lang
from kopilka.cabinet.site import Site
from kopilka.cabinet.web import HERE, environment, render
from kopilka.domain import words

SESSION_COOKIE = "kop_session"

env = environment(HERE / "templates")


def to_login(request: Request, note: str | None = None) -> RedirectResponse:
    url = "/cabinet/login" + (f"?note={note}" if note else "")
    response = RedirectResponse(url, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/cabinet")
    return response


async def customer_of(
    request: Request, conn: AsyncConnection, now: datetime, site: Site
) -> int | Response:
    """The customer id of the cabinet's session with this shop; or the way to the login page
    (with «session expired» when there was a session cookie). A session opened with another
    shop is no session here."""
    token = request.cookies.get(SESSION_COOKIE)
    session = await sessions.find_session(conn, "customer", token, now)
    if session is None or session.customer_id is None or session.portal_id != site.portal_id:
        return to_login(request, "expired" if token else None)
    return session.customer_id


def lang_of(request: Request, site: Site | None) -> str:
    return pick_lang(request, site.locale if site is not None else "ru")


def page(
    request: Request,
    site: Site | None,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
) -> HTMLResponse:
    lang = lang_of(request, site)
    unit = site.unit if site is not None else "баллы"
    zone = site.program.timezone if site is not None else "Europe/Moscow"
    shared = {
        "shop": site.shop_name if site is not None else None,
        "logo": site.logo if site is not None else None,
        "unit_title": words.plural_title(unit, lang),
        "pts": lambda minor: words.amount(minor, unit, lang),
        "unit_of": lambda minor: words.unit_word(minor, unit, lang),
        "purchases": lambda n: words.purchases(n, lang),
        "day": lambda moment: words.local_date(moment, zone),
    }
    response = render(env, request, template, shared | context, status=status, lang=lang)
    logo = shared["logo"]
    if isinstance(logo, str) and logo.startswith("https://"):
        parts = urlsplit(logo)
        origin = f"https://{parts.netloc}"
        policy = response.headers["Content-Security-Policy"]
        response.headers["Content-Security-Policy"] = policy.replace(
            "img-src 'self' data:", f"img-src 'self' data: {origin}"
        )
    return response
