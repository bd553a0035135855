"""``/admin``: the administrator logs in with the password from settings (stored hashed, see
:mod:`kopilka.admin.passwords`), searches customers by phone, name or card, and opens a page per
customer: the ledger with each entry's explanation, the holds, the cards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.admin import passwords
from kopilka.admin.access import COOKIE, admin_session, to_login
from kopilka.api.portal import current_program, customer_by_id, search_customers
from kopilka.bitrix24.sync import parked_deals
from kopilka.cabinet import sessions
from kopilka.cabinet.pages import portal_id_of
from kopilka.cabinet.web import HERE as CABINET
from kopilka.cabinet.web import (
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
from kopilka.db.tables import accounts, cards, holds
from kopilka.domain.errors import NotFound
from kopilka.ledger.queries import balance, explain, history

router = APIRouter(prefix="/admin", include_in_schema=False)
env = environment(Path(__file__).parent / "templates", CABINET / "templates")


@router.get("/login")
async def login_page(request: Request) -> Response:
    return render(env, request, "admin_login.html", {"error": None})


@router.post("/login")
async def login(request: Request) -> Response:
    services = services_of(request)
    settings = services.settings
    form = await request.form()
    if not csrf_ok(request, form):
        return render(env, request, "admin_login.html", {"error": "csrf"}, status=403)
    portal_id = await portal_id_of(services)
    stored = settings.admin_password_hash
    if portal_id is None or stored is None:
        return render(env, request, "admin_login.html", {"error": "not_configured"}, status=503)
    now = services.now()
    subject = f"addr:admin:{client_addr(request)}"
    limit = settings.login_max_failures_per_phone

    async def reserve(conn: AsyncConnection) -> int | None:
        """Count this attempt before the password is hashed, one attempt at a time per client:
        a client past its limit costs no hashing, however many posts it sends at once."""
        await sessions.hold_subjects(conn, portal_id, [subject])
        lock = await sessions.lockout(conn, settings, portal_id, {subject: limit}, now)
        if lock.locked:
            return None
        return await sessions.count_attempt(conn, portal_id, subject, now)

    attempt = await run_in_transaction(services.engine, reserve)
    if attempt is None:
        return render(env, request, "admin_login.html", {"error": "locked"}, status=429)
    typed = str(form.get("password") or "")
    if not await passwords.check_password(
        typed, stored.get_secret_value(), threads=settings.admin_hash_threads
    ):
        return render(env, request, "admin_login.html", {"error": "bad_password"}, status=401)

    async def open_session(conn: AsyncConnection) -> str:
        await sessions.forget_attempt(conn, attempt)
        return await sessions.open_session(
            conn, "admin", portal_id, None, services.now(), settings.admin_session_ttl
        )

    token = await run_in_transaction(services.engine, open_session)
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


@router.get("")
@router.get("/customers")
async def customers(request: Request, q: str = "") -> Response:
    session = await admin_session(request)
    if session is None:
        return to_login()
    async with services_of(request).engine.connect() as conn:
        found = await search_customers(conn, session.portal_id, q[:100])
        parked = await parked_deals(conn, session.portal_id)
    context = {"q": q, "customers": found, "parked": parked}
    return render(env, request, "admin_customers.html", context)


@router.get("/customers/{customer_id}")
async def customer(request: Request, customer_id: int) -> Response:
    session = await admin_session(request)
    if session is None:
        return to_login()
    now = services_of(request).now()
    async with services_of(request).engine.connect() as conn:
        try:
            who = await customer_by_id(conn, session.portal_id, customer_id)
        except NotFound:
            return render(
                env,
                request,
                "admin_customers.html",
                {"q": "", "customers": [], "missing": customer_id},
                status=404,
            )
        book, _ = await current_program(conn, session.portal_id)
        lines = await history(conn, book, customer_id, limit=200)
        explained: list[dict[str, Any]] = []
        for line in lines:
            e = await explain(conn, book, line.transaction_id)
            explained.append({"line": line, "entry": e.entry, "reversed_by": e.reversed_by})
        holds_rows = (
            await conn.execute(
                select(holds)
                .join(accounts, accounts.c.id == holds.c.account_id)
                .where(accounts.c.customer_id == customer_id)
                .order_by(holds.c.id.desc())
                .limit(50)
            )
        ).all()
        card_rows = (
            await conn.execute(
                select(cards).where(cards.c.customer_id == customer_id).order_by(cards.c.id)
            )
        ).all()
        context = {
            "customer": who,
            "balance": await balance(conn, book, customer_id, now),
            "entries": explained,
            "holds": holds_rows,
            "cards": card_rows,
        }
    return render(env, request, "admin_customer.html", context)
