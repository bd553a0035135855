"""Login to the cabinet of the shop the address serves (``site``): the phone, a one-time code by
SMS (``codes``), a session that belongs to that shop only (``sessions``, ``view.customer_of``)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.api.portal import customer_by_phone
from kopilka.cabinet import codes, sessions
from kopilka.cabinet.site import Site, site_of
from kopilka.cabinet.view import SESSION_COOKIE, lang_of, page, to_login
from kopilka.cabinet.web import client_addr, cookie_flags, csrf_ok, finish, new_csrf, services_of
from kopilka.db.engine import run_in_transaction
from kopilka.phones import InvalidPhone, normalize_phone
from kopilka.process.services import Services

log = logging.getLogger("kopilka.cabinet")

router = APIRouter()


def _login(request: Request, site: Site | None, status: int = 200, **context: Any) -> Response:
    base = {"step": "phone", "phone": "", "error": None, "note": None}
    return page(request, site, "login.html", base | context, status=status)


def not_configured(request: Request) -> Response:
    return _login(request, None, 503, error="not_configured")


async def _site(services: Services, request: Request) -> Site | None:
    async with services.engine.connect() as conn:
        return await site_of(conn, services.settings, request)


@router.get("/login")
async def login_page(request: Request) -> Response:
    site = await _site(services_of(request), request)
    note = request.query_params.get("note")
    return _login(request, site, note="session_expired" if note == "expired" else None)


async def _checked_phone(
    request: Request, services: Services, form: Any, *, shown_phone: bool
) -> tuple[str, Site] | Response:
    """The first steps of both login posts: the CSRF token, the phone (normalised) and the
    shop the cabinet serves; or the login page again with the reason."""
    raw = str(form.get("phone") or "")
    site = await _site(services, request)
    if not csrf_ok(request, form):
        return _login(request, site, 403, error="csrf", phone=raw if shown_phone else "")
    try:
        phone = normalize_phone(raw)
    except InvalidPhone:
        return _login(request, site, 422, error="bad_phone", phone=raw)
    if site is None:
        return _login(request, None, 503, error="not_configured", phone=raw)
    return phone, site


@router.post("/login")
async def request_code(request: Request) -> Response:
    """The same answer for every phone, a customer's or not (kopilka.cabinet.codes): the SMS
    is queued, not sent here."""
    services = services_of(request)
    settings = services.settings
    form = await request.form()
    checked = await _checked_phone(request, services, form, shown_phone=False)
    if isinstance(checked, Response):
        return checked
    phone, site = checked
    if not codes.sms_ready(services):
        log.error("no SMS channel configured: login codes cannot be sent")
        return _login(request, site, 503, error="sms_failed", phone=phone)
    now = services.now()
    addr = client_addr(request)
    lang = lang_of(request, site)

    async def unit(conn: AsyncConnection) -> codes.Answer:
        return await codes.request_code(conn, settings, site.portal_id, phone, addr, now, lang)

    answer = await run_in_transaction(services.engine, unit)
    if answer.error is None:
        await codes.code_to_log(services, site.portal_id, phone, now)
    return _login(
        request,
        site,
        200 if answer.error is None else 429,
        step="phone" if answer.error in ("locked", "too_many_codes", "busy") else "code",
        phone=phone,
        error=answer.error,
        until=answer.until,
        wait=answer.wait,
    )


@router.post("/verify")
async def verify(request: Request) -> Response:
    services = services_of(request)
    settings = services.settings
    form = await request.form()
    checked = await _checked_phone(request, services, form, shown_phone=True)
    if isinstance(checked, Response):
        return checked
    phone, site = checked
    portal_id = site.portal_id
    code = str(form.get("code") or "")
    now = services.now()
    subjects = sessions.login_subjects(settings, phone, client_addr(request))

    async def unit(conn: AsyncConnection) -> tuple[str | None, str | None, Any]:
        # One guess at a time per phone and per address: the failures counted below include
        # every earlier guess, so no guess is checked once the limit is reached.
        await sessions.hold_subjects(conn, portal_id, subjects)
        lock = await sessions.lockout(conn, settings, portal_id, subjects, now)
        if lock.locked:
            return "locked", None, lock.until
        if await sessions.use_code(conn, portal_id, phone, code, now):
            customer = await customer_by_phone(conn, portal_id, phone)
            token = await sessions.open_session(
                conn, "customer", portal_id, customer.id, now, settings.cabinet_session_ttl
            )
            return None, token, None
        await sessions.record_failure(conn, portal_id, list(subjects), now)
        lock = await sessions.lockout(conn, settings, portal_id, subjects, now)
        if lock.locked:
            await sessions.void_codes(conn, portal_id, phone, now)
            return "locked", None, lock.until
        return "bad_code", None, None

    error, token, until = await run_in_transaction(services.engine, unit)
    if token is None:
        return _login(
            request,
            site,
            429 if error == "locked" else 401,
            step="phone" if error == "locked" else "code",
            phone=phone,
            error=error,
            until=until,
        )
    response = RedirectResponse("/cabinet", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        path="/cabinet",
        max_age=settings.cabinet_session_ttl,
        **cookie_flags(request),
    )
    new_csrf(request)  # a token seen before the login is not the session's
    finish(request, response)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    services = services_of(request)
    form = await request.form()
    if not csrf_ok(request, form):
        return _login(request, await _site(services, request), 403, error="csrf")
    token = request.cookies.get(SESSION_COOKIE)

    async def unit(conn: AsyncConnection) -> None:
        await sessions.end_session(conn, token, services.now())

    await run_in_transaction(services.engine, unit)
    return to_login(request)
