"""The cabinet's pages under ``/cabinet``: login by phone and a one-time SMS code, then the
balance, points pending and expiring, the history, the orders, the card and the level."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.api.portal import (
    CustomerRef,
    contact_id_of,
    current_program,
    customer_by_id,
    customer_by_phone,
    customer_level,
)
from kopilka.cabinet import codes, sessions
from kopilka.cabinet.card import barcode_svg, pretty_number, qr_svg
from kopilka.cabinet.i18n import pick_lang
from kopilka.cabinet.web import (
    HERE,
    client_addr,
    cookie_flags,
    csrf_ok,
    environment,
    finish,
    new_csrf,
    render,
    services_of,
)
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import b24_deals, portals, pos_orders
from kopilka.ledger.queries import balance, history
from kopilka.phones import InvalidPhone, normalize_phone
from kopilka.process.services import Services

log = logging.getLogger("kopilka.cabinet")
SESSION_COOKIE = "kop_session"
EXPIRING_WITHIN = timedelta(days=90)

router = APIRouter(prefix="/cabinet", include_in_schema=False)
env = environment(HERE / "templates")
static = StaticFiles(directory=HERE / "static")


async def portal_id_of(services: Services) -> int | None:
    member = services.settings.cabinet_portal or services.settings.default_portal
    async with services.engine.connect() as conn:
        found = await conn.scalar(select(portals.c.id).where(portals.c.member_id == member))
    return int(found) if found is not None else None


def to_login(request: Request, note: str | None = None) -> RedirectResponse:
    url = "/cabinet/login" + (f"?note={note}" if note else "")
    response = RedirectResponse(url, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/cabinet")
    return response


@router.get("")
@router.get("/")
async def home(request: Request) -> Response:
    services = services_of(request)
    now = services.now()
    async with services.engine.connect() as conn:
        who = await signed_in(request, conn, now)
        if isinstance(who, Response):
            return who
        context = await dashboard(conn, *who, now)
    return render(env, request, "home.html", context)


async def signed_in(
    request: Request, conn: AsyncConnection, now: datetime
) -> tuple[int, int] | Response:
    """(portal id, customer id) of the cabinet's session; or the way to the login page (with
    «session expired» when there was a session cookie)."""
    token = request.cookies.get(SESSION_COOKIE)
    session = await sessions.find_session(conn, "customer", token, now)
    if session is None or session.customer_id is None:
        return to_login(request, "expired" if token else None)
    return session.portal_id, session.customer_id


async def dashboard(
    conn: AsyncConnection, portal_id: int, customer_id: int, now: datetime, *, limit: int = 20
) -> dict[str, Any]:
    customer = await customer_by_id(conn, portal_id, customer_id)
    book, program = await current_program(conn, portal_id)
    bal = await balance(conn, book, customer_id, now)
    lines = [h for h in await history(conn, book, customer_id, limit=limit) if h.amount != 0]
    return {
        "customer": customer,
        "program": program,
        "balance": bal,
        "expiring": [
            lot
            for lot in bal.expiring
            if lot.expires_at is not None and lot.expires_at <= now + EXPIRING_WITHIN
        ][:5],
        "history": lines,
        "orders": await orders_of(conn, portal_id, customer),
        "level": await customer_level(conn, book, program, customer, now),
        "levels": program.levels,
        "card_number": pretty_number(customer.card_number) if customer.card_number else None,
        "limit": limit,
    }


async def orders_of(conn: AsyncConnection, portal_id: int, customer: CustomerRef) -> list[Any]:
    """Won deals of the customer's contact and the customer's POS orders, newest first."""
    found: list[dict[str, Any]] = []
    contact = contact_id_of(customer.external_id)
    if contact is not None:
        deals = await conn.execute(
            select(b24_deals.c.deal_id, b24_deals.c.amount, b24_deals.c.closed_at)
            .where(
                b24_deals.c.portal_id == portal_id,
                b24_deals.c.semantic == "S",
                literal(contact) == b24_deals.c.contact_ids.any_(),
            )
            .order_by(b24_deals.c.closed_at.desc().nulls_last())
            .limit(50)
        )
        found += [
            {
                "kind": "deal",
                "number": str(d.deal_id),
                "amount": int(d.amount),
                "at": d.closed_at,
                "refunded": False,
            }
            for d in deals
        ]
    orders = await conn.execute(
        select(
            pos_orders.c.order_id,
            pos_orders.c.total,
            pos_orders.c.committed_at,
            pos_orders.c.status,
        )
        .where(
            pos_orders.c.portal_id == portal_id,
            pos_orders.c.customer_id == customer.id,
            pos_orders.c.status.in_(("committed", "refunded")),
        )
        .order_by(pos_orders.c.committed_at.desc())
        .limit(50)
    )
    found += [
        {
            "kind": "order",
            "number": o.order_id,
            "amount": int(o.total),
            "at": o.committed_at,
            "refunded": o.status == "refunded",
        }
        for o in orders
    ]
    far = datetime.min.replace(tzinfo=UTC)
    return sorted(found, key=lambda o: o["at"] or far, reverse=True)


@router.get("/history")
async def full_history(request: Request) -> Response:
    services = services_of(request)
    now = services.now()
    async with services.engine.connect() as conn:
        who = await signed_in(request, conn, now)
        if isinstance(who, Response):
            return who
        context = await dashboard(conn, *who, now, limit=500)
    return render(env, request, "history.html", context)


@router.get("/card")
async def card(request: Request) -> Response:
    services = services_of(request)
    now = services.now()
    async with services.engine.connect() as conn:
        who = await signed_in(request, conn, now)
        if isinstance(who, Response):
            return who
        customer = await customer_by_id(conn, *who)
    number = customer.card_number
    return render(
        env,
        request,
        "card.html",
        {
            "customer": customer,
            "card_number": pretty_number(number) if number else None,
            "qr": qr_svg(number) if number else "",
            "barcode": barcode_svg(number) if number else "",
        },
    )


@router.get("/login")
async def login_page(request: Request) -> Response:
    note = request.query_params.get("note")
    return render(
        env,
        request,
        "login.html",
        {
            "step": "phone",
            "phone": "",
            "error": None,
            "note": "session_expired" if note == "expired" else None,
        },
    )


async def _checked_phone(
    request: Request, services: Services, form: Any, *, shown_phone: bool
) -> tuple[str, int] | Response:
    """The first steps of both login posts: the CSRF token, the phone (normalised) and the
    portal the cabinet serves; or the login page again with the reason."""
    raw = str(form.get("phone") or "")

    def again(error: str, status: int, phone: str) -> Response:
        context = {"step": "phone", "phone": phone, "error": error, "note": None}
        return render(env, request, "login.html", context, status=status)

    if not csrf_ok(request, form):
        return again("csrf", 403, raw if shown_phone else "")
    try:
        phone = normalize_phone(raw)
    except InvalidPhone:
        return again("bad_phone", 422, raw)
    portal_id = await portal_id_of(services)
    if portal_id is None:
        return again("not_configured", 503, raw)
    return phone, portal_id


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
    phone, portal_id = checked
    if not codes.sms_ready(services):
        log.error("no SMS channel configured: login codes cannot be sent")
        context = {"step": "phone", "phone": phone, "error": "sms_failed", "note": None}
        return render(env, request, "login.html", context, status=503)
    now = services.now()
    addr = client_addr(request)
    lang = pick_lang(request)

    async def unit(conn: AsyncConnection) -> codes.Answer:
        return await codes.request_code(conn, settings, portal_id, phone, addr, now, lang)

    answer = await run_in_transaction(services.engine, unit)
    if answer.error is None:
        await codes.code_to_log(services, portal_id, phone, now)
    return render(
        env,
        request,
        "login.html",
        {
            "step": "phone" if answer.error in ("locked", "too_many_codes", "busy") else "code",
            "phone": phone,
            "error": answer.error,
            "until": answer.until,
            "wait": answer.wait,
            "note": None,
        },
        status=200 if answer.error is None else 429,
    )


@router.post("/verify")
async def verify(request: Request) -> Response:
    services = services_of(request)
    settings = services.settings
    form = await request.form()
    checked = await _checked_phone(request, services, form, shown_phone=True)
    if isinstance(checked, Response):
        return checked
    phone, portal_id = checked
    code = str(form.get("code") or "")
    now = services.now()
    addr = client_addr(request)
    subjects = sessions.login_subjects(settings, phone, addr)

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
        return render(
            env,
            request,
            "login.html",
            {
                "step": "phone" if error == "locked" else "code",
                "phone": phone,
                "error": error,
                "until": until,
                "note": None,
            },
            status=429 if error == "locked" else 401,
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
        return render(
            env,
            request,
            "login.html",
            {"step": "phone", "phone": "", "error": "csrf", "note": None},
            status=403,
        )
    token = request.cookies.get(SESSION_COOKIE)

    async def unit(conn: AsyncConnection) -> None:
        await sessions.end_session(conn, token, services.now())

    await run_in_transaction(services.engine, unit)
    return to_login(request)
