"""The cabinet's pages under ``/cabinet``: the balance, points pending and expiring, the
history, the orders with their details, the card and the level — for the shop the address
serves (``site``), in the customer's words (``entries``, ``words``). Login is ``login.py``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.api.portal import customer_by_id, customer_level
from kopilka.cabinet import entries, login
from kopilka.cabinet.card import barcode_svg, pretty_number, qr_svg
from kopilka.cabinet.orders import orders_of
from kopilka.cabinet.site import Site, site_of
from kopilka.cabinet.view import customer_of, lang_of, page
from kopilka.cabinet.web import HERE, services_of
from kopilka.db.tables import portals
from kopilka.domain.words import local_date
from kopilka.ledger.queries import balance, history
from kopilka.process.services import Services
from kopilka.wallet.google.service import offered as google_offered

EXPIRING_WITHIN = timedelta(days=90)
GOOGLE_LINK = "/cabinet/wallet/google"  # kopilka.wallet.google.endpoints (which imports this)

router = APIRouter(prefix="/cabinet", include_in_schema=False)
router.include_router(login.router)
static = StaticFiles(directory=HERE / "static")


async def portal_id_of(services: Services) -> int | None:
    """The portal of ``cabinet_portal`` (or ``default_portal``): the admin's tenant."""
    member = services.settings.cabinet_portal or services.settings.default_portal
    async with services.engine.connect() as conn:
        found = await conn.scalar(select(portals.c.id).where(portals.c.member_id == member))
    return int(found) if found is not None else None


async def signed_in(
    request: Request, conn: AsyncConnection, now: datetime
) -> tuple[int, int] | Response:
    """(portal id, customer id) of the session with the shop this address serves (a session
    of another shop is none); or the way to the login page. For pages outside this package
    (the wallet's «Добавить в Apple Wallet»)."""
    site = await site_of(conn, services_of(request).settings, request)
    if site is None:
        return login.not_configured(request)
    who = await customer_of(request, conn, now, site)
    return who if isinstance(who, Response) else (site.portal_id, who)


async def _signed_page(request: Request, template: str, *, limit: int = 20) -> Response:
    services = services_of(request)
    now = services.now()
    async with services.engine.connect() as conn:
        site = await site_of(conn, services.settings, request)
        if site is None:
            return login.not_configured(request)
        who = await customer_of(request, conn, now, site)
        if isinstance(who, Response):
            return who
        context = await dashboard(conn, site, who, now, lang_of(request, site), limit=limit)
    return page(request, site, template, context)


@router.get("")
@router.get("/")
async def home(request: Request) -> Response:
    return await _signed_page(request, "home.html")


@router.get("/history")
async def full_history(request: Request) -> Response:
    return await _signed_page(request, "history.html", limit=500)


@router.get("/orders")
async def all_orders(request: Request) -> Response:
    return await _signed_page(request, "orders.html")


async def dashboard(
    conn: AsyncConnection, site: Site, customer_id: int, now: datetime, lang: str, *, limit: int
) -> dict[str, Any]:
    customer = await customer_by_id(conn, site.portal_id, customer_id)
    program = site.program
    bal = await balance(conn, site.book, customer_id, now)
    orders = await orders_of(conn, site.portal_id, site.book, customer)
    dates = {o.reference: local_date(o.at, program.timezone) for o in orders}
    raw = await history(conn, site.book, customer_id, limit=limit)
    return {
        "customer": customer,
        "program": program,
        "balance": bal,
        "expiring": [
            lot
            for lot in bal.expiring
            if lot.expires_at is not None and lot.expires_at <= now + EXPIRING_WITHIN
        ][:5],
        "history": entries.lines(raw, lang, program, dates, await entries.holds_of(conn, raw)),
        "orders": orders,
        "dates": dates,
        "level": await customer_level(conn, site.book, program, customer, now),
        "levels": program.levels,
        "card_number": pretty_number(customer.card_number) if customer.card_number else None,
        "limit": limit,
    }


@router.get("/card")
async def card(request: Request) -> Response:
    services = services_of(request)
    now = services.now()
    async with services.engine.connect() as conn:
        site = await site_of(conn, services.settings, request)
        if site is None:
            return login.not_configured(request)
        who = await customer_of(request, conn, now, site)
        if isinstance(who, Response):
            return who
        customer = await customer_by_id(conn, site.portal_id, who)
    number = customer.card_number
    return page(
        request,
        site,
        "card.html",
        {
            "customer": customer,
            "card_number": pretty_number(number) if number else None,
            "raw_number": number or "",
            "qr": qr_svg(number) if number else "",
            "barcode": barcode_svg(number) if number else "",
            # the wallet buttons (issue 19 items 1 and 4): shown when those features say so
            "apple_wallet": "/cabinet/wallet/apple"
            if services.settings.wallet_apple_pass_type_id
            else None,
            "google_wallet": GOOGLE_LINK if google_offered(services) else None,
        },
    )
