"""What the cabinet's and the admin's pages share: templates, CSRF, language, headers, cookies.

CSRF is a double-submit token: a random ``kop_csrf`` cookie that every form repeats in a hidden
``csrf`` field (htmx requests may send it as ``X-CSRF-Token``); a POST whose token does not match
the cookie is refused, and a login starts a new token. The cookies are ``HttpOnly`` and
``SameSite=Lax`` by default, ``Secure`` over https (see :func:`cookie_flags`); a cabinet
framed on the company's own site over https needs ``cabinet_cross_site_cookies`` (``Secure;
SameSite=None``), which gives up SameSite's own CSRF protection — the token still holds.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData

from kopilka.cabinet.i18n import pick_lang, translator
from kopilka.config import Settings
from kopilka.domain.money import format_points, format_rub
from kopilka.process.services import Services

CSRF_COOKIE = "kop_csrf"
LANG_COOKIE = "kop_lang"
HERE = Path(__file__).parent


def environment(*folders: Path) -> Environment:
    env = Environment(
        loader=FileSystemLoader([str(f) for f in folders]),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["points"] = format_points
    env.filters["rub"] = format_rub
    env.filters["signed"] = lambda v: ("+" if v > 0 else "") + format_points(v)
    env.filters["date"] = lambda d: d.strftime("%d.%m.%Y") if d else ""
    env.filters["datetime"] = lambda d: d.strftime("%d.%m.%Y %H:%M") if d else ""
    return env


def services_of(request: Request) -> Services:
    services = request.app.state.services
    assert isinstance(services, Services)
    return services


def client_addr(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def cookie_flags(request: Request) -> dict[str, Any]:
    """``Secure`` over https (the scheme a trusted proxy reports counts: ``trusted_proxies``),
    or as ``secure_cookies`` forces it; cross-site cookies are always ``Secure``."""
    settings = services_of(request).settings
    if settings.cabinet_cross_site_cookies:
        return {"httponly": True, "secure": True, "samesite": "none"}
    secure = settings.secure_cookies
    if secure is None:
        secure = request.url.scheme == "https"
    return {"httponly": True, "secure": secure, "samesite": "lax"}


def csrf_token(request: Request) -> str:
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "csrf", None)
    if not token:
        token = secrets.token_urlsafe(24)
    request.state.csrf = token
    return str(token)


def new_csrf(request: Request) -> None:
    """A fresh CSRF token (at login), set as the cookie by :func:`finish`."""
    request.state.csrf = secrets.token_urlsafe(24)


def csrf_ok(request: Request, form: FormData) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = str(form.get("csrf") or request.headers.get("x-csrf-token") or "")
    return bool(cookie) and hmac.compare_digest(cookie, sent)


def render(
    env: Environment,
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    lang: str | None = None,
) -> HTMLResponse:
    """``lang``: the page's language when the caller decided it (the cabinet: the customer's
    choice or the program's locale); otherwise :func:`pick_lang`."""
    lang = lang or pick_lang(request)
    token = csrf_token(request)
    html = env.get_template(template).render(
        request=request, lang=lang, t=translator(lang), csrf=token, **context
    )
    response = HTMLResponse(html, status_code=status)
    finish(request, response)
    return response


def finish(request: Request, response: Response) -> None:
    """Security headers, the CSRF and language cookies."""
    settings = services_of(request).settings
    flags = cookie_flags(request)
    token = getattr(request.state, "csrf", None)
    if token and request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(CSRF_COOKIE, token, path="/", **flags)
    asked = request.query_params.get("lang")
    if asked in ("ru", "en"):
        response.set_cookie(LANG_COOKIE, asked, path="/", max_age=365 * 86400, **flags)
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        f"script-src 'self'; frame-ancestors {settings.cabinet_frame_ancestors}"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"


def when_local(moment: datetime, settings: Settings) -> str:
    return moment.strftime("%H:%M")
