"""``/admin/iiko``: the restaurant on iiko — its link, each guest's wallet as last seen and the
pushes still pending (drift), the till's spends Kopilka could not honour, and a reconcile now."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.admin.access import admin_session, to_login
from kopilka.admin.pages import env
from kopilka.cabinet.i18n import pick_lang
from kopilka.cabinet.web import csrf_ok, render, services_of
from kopilka.db.engine import run_in_transaction
from kopilka.domain.money import format_points
from kopilka.iiko import queries
from kopilka.iiko.tasks import SYNC_TASK
from kopilka.process.queue import defer_once

router = APIRouter(prefix="/admin", include_in_schema=False)

WORDS = {
    "ru": {
        "title": "Ресторан (iiko)",
        "none": "Ресторан не подключён: kopilka iiko connect.",
        "org": "Организация",
        "last": "Последняя сверка",
        "error": "Ошибка",
        "guests": "Кошельки гостей",
        "customer": "Клиент",
        "phone": "Телефон",
        "wallet": "В кошельке iiko",
        "pending": "Запись не подтверждена",
        "short": "Оплаты на кассе, которые не хватило баллов покрыть",
        "shortfall": "Не хватило",
        "order": "Заказ",
        "sync": "Сверить сейчас",
        "queued": "Сверка запущена.",
        "refused": "Форма устарела: обновите страницу.",
    },
    "en": {
        "title": "Restaurant (iiko)",
        "none": "No restaurant linked: kopilka iiko connect.",
        "org": "Organization",
        "last": "Last reconcile",
        "error": "Error",
        "guests": "Guests' wallets",
        "customer": "Customer",
        "phone": "Phone",
        "wallet": "On the iiko wallet",
        "pending": "Write not confirmed",
        "short": "Till payments the points could not cover",
        "shortfall": "Short by",
        "order": "Order",
        "sync": "Reconcile now",
        "queued": "Reconcile started.",
        "refused": "The form is stale: reload the page.",
    },
}


@router.get("/iiko")
async def iiko_page(request: Request, done: str = "") -> Response:
    session = await admin_session(request, "operations")
    if session is None:
        return to_login()
    words = WORDS["en" if pick_lang(request) == "en" else "ru"]
    context: dict[str, Any] = {"words": words, "link": None, "done": done == "queued"}
    async with services_of(request).engine.connect() as conn:
        link = await queries.link_of(conn, session.portal_id)
        if link is not None:
            context["link"] = link
            context["info"] = await queries.link_state(conn, link.id)
            context["guests"] = [
                {**r._asdict(), "wallet": format_points(int(r.wallet_balance))}
                for r in await queries.drift(conn, link.id)
            ]
            context["short"] = [
                {**r._asdict(), "lacking": format_points(int(r.shortfall))}
                for r in await queries.shortfalls(conn, link.id)
            ]
    return render(env, request, "iiko.html", context)


@router.post("/iiko/sync")
async def iiko_sync(request: Request) -> Response:
    session = await admin_session(request, "operations")
    if session is None:
        return to_login()
    form = await request.form()
    if not csrf_ok(request, form):
        words = WORDS["en" if pick_lang(request) == "en" else "ru"]
        return render(env, request, "iiko.html", {"words": words, "refused": True}, status=403)
    now: datetime = services_of(request).now()

    async def unit(conn: AsyncConnection) -> None:
        await defer_once(conn, SYNC_TASK, SYNC_TASK, timestamp=int(now.timestamp()))

    await run_in_transaction(services_of(request).engine, unit)
    return RedirectResponse("/admin/iiko?done=queued", status_code=303)
