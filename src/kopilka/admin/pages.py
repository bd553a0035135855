"""``/admin``: named people sign in with their own password (:mod:`.users`, hashed off the event
loop by :mod:`.passwords`), or — until a first owner exists — with the shared password from
settings (the bootstrap owner, who may read and create people, not grant). They search
customers and open a page per customer: the ledger with who did what and why, the holds, the
cards, and what their role lets them do (:mod:`.acting`). The other pages' routers are
gathered here."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.admin import acting, audit_page, handover, passwords, people, users
from kopilka.admin.auth import COOKIE, AdminSession, current, open_admin_session, switch_portal
from kopilka.admin.web import env, locale_of, page, to_login
from kopilka.api.portal import contact_id_of, current_program, customer_by_id, search_customers
from kopilka.audit import record
from kopilka.b24app.auth import portal_origin
from kopilka.bitrix24.connections import is_connected
from kopilka.bitrix24.sync import parked_deals
from kopilka.cabinet import sessions
from kopilka.cabinet.pages import portal_id_of
from kopilka.cabinet.web import client_addr, cookie_flags, csrf_ok, finish, new_csrf, services_of
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import accounts, cards, holds
from kopilka.domain.errors import NotFound
from kopilka.ledger.queries import balance, explain, history

router = APIRouter(prefix="/admin", include_in_schema=False)
__all__ = ["COOKIE", "env", "router"]  # COOKIE and env: what the other admin pages import


async def _session(request: Request) -> AdminSession | None:
    """The other admin pages' access check before issue 18 (``_session``): now the person's."""
    return await current(request)


_to_login = to_login
for part in (acting, people, audit_page, handover):
    router.include_router(part.router)


def _login_page(request: Request, error: str | None, status: int = 200) -> Response:
    from kopilka.admin.i18n import pick, translator

    said = translator(pick(request, None))(f"err.{error}") if error else None
    return page(request, None, "admin_login.html", {"error": said}, status=status)


@router.get("/login")
async def login_page(request: Request) -> Response:
    return _login_page(request, None)


@router.post("/login")
async def login(request: Request) -> Response:
    services = services_of(request)
    settings = services.settings
    form = await request.form()
    if not csrf_ok(request, form):
        return _login_page(request, "csrf", 403)
    typed_login = str(form.get("login") or "").strip().lower()[:100]
    typed = str(form.get("password") or "")[:500]
    default_portal = await portal_id_of(services)
    now = services.now()
    subject = f"addr:admin:{client_addr(request)}"
    window = settings.login_lockout_window

    async def reserve(conn: AsyncConnection) -> users.Attempt | None:
        """Count this attempt before the password is hashed, one at a time per client and per
        login: a client or a login past its limit costs no hashing."""
        if default_portal is not None:
            await sessions.hold_subjects(conn, default_portal, [subject])
            limits = {subject: settings.login_max_failures_per_addr}
            if not typed_login:  # the shared password: as strict per client as it always was
                limits = {subject: settings.login_max_failures_per_phone}
            lock = await sessions.lockout(conn, settings, default_portal, limits, now)
            if lock.locked:
                return None
            await sessions.count_attempt(conn, default_portal, subject, now)
        if not typed_login:
            return users.Attempt(None, None)
        return await users.reserve_attempt(
            conn,
            typed_login,
            limit=settings.login_max_failures_per_phone,
            window=window,
            now=now,
        )

    attempt = await run_in_transaction(services.engine, reserve)
    if attempt is None or attempt.locked:
        return _login_page(request, "locked", 429)
    threads = settings.admin_hash_threads
    if typed_login:
        stored = attempt.password_hash or await passwords.dummy_hash()
        ok = await passwords.check_password(typed, stored, threads=threads)
        ok = ok and attempt.user_id is not None
    else:
        shared = settings.admin_password_hash
        async with services.engine.connect() as conn:
            bootstrap = shared is not None and not await users.owner_exists(conn)
        if default_portal is None or not bootstrap:
            return _login_page(
                request,
                "not_configured" if shared is None else "bad_password",
                503 if shared is None else 401,
            )
        assert shared is not None
        ok = await passwords.check_password(typed, shared.get_secret_value(), threads=threads)
    if not ok:
        return _login_page(request, "bad_password", 401)

    async def open_session(conn: AsyncConnection) -> str | None:
        if attempt.user_id is None:
            assert default_portal is not None
            return await open_admin_session(
                conn, None, default_portal, now, settings.admin_session_ttl
            )
        await users.login_succeeded(conn, attempt.user_id)
        user = await users.user_by_id(conn, attempt.user_id)
        allowed = [m.portal_id for m in user.memberships]
        if not allowed:
            return None
        portal = default_portal if default_portal in allowed else allowed[0]
        await record(
            conn,
            f"admin:{user.login}",
            "user.signed_in",
            f"user:{user.id}",
            {"addr": client_addr(request)},
            portal_id=portal,
            at=now,
        )
        return await open_admin_session(conn, user.id, portal, now, settings.admin_session_ttl)

    token = await run_in_transaction(services.engine, open_session)
    if token is None:
        return _login_page(request, "forbidden", 403)
    response = RedirectResponse("/admin/customers", status_code=303)
    response.set_cookie(
        COOKIE, token, path="/admin", max_age=settings.admin_session_ttl, **cookie_flags(request)
    )
    new_csrf(request)  # a token seen before the login is not the session's
    finish(request, response)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    services = services_of(request)
    form = await request.form()
    if csrf_ok(request, form):

        async def unit(conn: AsyncConnection) -> None:
            await sessions.end_session(conn, request.cookies.get(COOKIE), services.now())

        await run_in_transaction(services.engine, unit)
    response = to_login()
    response.delete_cookie(COOKIE, path="/admin")
    return response


@router.post("/portal")
async def choose_portal(request: Request) -> Response:
    """The portal switcher: another of the person's portals (one they are not allowed: 403)."""
    me = await current(request)
    if me is None:
        return to_login()
    form = await request.form()
    raw = str(form.get("portal_id") or "")
    if not csrf_ok(request, form) or not raw.isdigit():
        return Response(status_code=403)

    async def unit(conn: AsyncConnection) -> bool:
        return await switch_portal(conn, me, int(raw))

    if not await run_in_transaction(services_of(request).engine, unit):
        return Response("not your portal", status_code=403)
    return RedirectResponse("/admin/customers", status_code=303)


@router.get("")
@router.get("/customers")
async def customers(request: Request, q: str = "") -> Response:
    me = await current(request)
    if me is None:
        return to_login()
    async with services_of(request).engine.connect() as conn:
        found = await search_customers(conn, me.portal_id, q[:100])
        parked = await parked_deals(conn, me.portal_id)
        locale = await locale_of(conn, me.portal_id)
    context = {"q": q, "customers": found, "parked": parked}
    return page(request, me, "admin_customers.html", context, locale=locale)


@router.get("/customers/{customer_id}")
async def customer(request: Request, customer_id: int, note: str = "") -> Response:
    me = await current(request)
    if me is None:
        return to_login()
    now = services_of(request).now()
    async with services_of(request).engine.connect() as conn:
        locale = await locale_of(conn, me.portal_id)
        try:
            who = await customer_by_id(conn, me.portal_id, customer_id)
        except NotFound:
            context = {"q": "", "customers": [], "missing": customer_id}
            return page(request, me, "admin_customers.html", context, locale=locale, status=404)
        book, program = await current_program(conn, me.portal_id)
        context = await _customer_context(conn, book, customer_id, now)
    async with services_of(request).engine.connect() as conn:
        connected = await is_connected(conn, me.portal_id)
    origin = await portal_origin(services_of(request), me.portal_id) if connected else None
    reasons = [(key, bonus.title) for key, bonus in program.manual_bonuses.items()]
    context |= {
        "customer": who,
        "note": note[:300],
        "reasons": reasons,
        "grant_key": secrets.token_urlsafe(16),
        "contact_id": contact_id_of(who.external_id),
        "portal": origin,  # a connected portal: deal links, the card
        "balance": context["balance"],
    }
    return page(request, me, "admin_customer.html", context, locale=locale)


async def _customer_context(
    conn: AsyncConnection, book: Any, customer_id: int, now: Any
) -> dict[str, Any]:
    lines = await history(conn, book, customer_id, limit=200)
    explained: list[dict[str, Any]] = []
    for line in lines:
        e = await explain(conn, book, line.transaction_id)
        manual = line.kind == "accrual" and (line.rule_id or "").startswith("manual:")
        explained.append(
            {"line": line, "entry": e.entry, "reversed_by": e.reversed_by, "manual": manual}
        )
    holds_rows = (
        await conn.execute(
            select(holds)
            .join(accounts, accounts.c.id == holds.c.account_id)
            .where(holds.c.portal_id == book.portal_id, accounts.c.customer_id == customer_id)
            .order_by(holds.c.id.desc())
            .limit(50)
        )
    ).all()
    card_rows = (
        await conn.execute(
            select(cards)
            .where(cards.c.portal_id == book.portal_id, cards.c.customer_id == customer_id)
            .order_by(cards.c.id)
        )
    ).all()
    return {
        "balance": await balance(conn, book, customer_id, now),
        "entries": explained,
        "holds": holds_rows,
        "cards": card_rows,
    }
