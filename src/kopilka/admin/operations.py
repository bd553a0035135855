"""``/admin/operations``: the everyday questions without SQL or logs (issue 18, item 4) — the
job queue and why jobs failed, the message outbox with the provider's answers (a failed message
sent again or cancelled), the Bitrix24 write outbox, parked deals (synced again on demand) and
the portal's health. Reads one portal's rows; every action is a POST with the admin's CSRF token
and goes through its feature's own path (``notify.outbox``, ``bitrix24.sync.mark_dirty``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.admin import ops_queries as q
from kopilka.admin.access import admin_session, to_login
from kopilka.admin.ops_texts import known, ops_translator
from kopilka.admin.web import env
from kopilka.audit import record
from kopilka.bitrix24.deferred import defer_sync
from kopilka.bitrix24.sync import parked_deals
from kopilka.bitrix24.sync.hints import mark_dirty
from kopilka.cabinet.i18n import pick_lang
from kopilka.cabinet.web import csrf_ok, render, services_of
from kopilka.db.engine import run_in_transaction
from kopilka.notify.outbox import cancel_message, retry_message

router = APIRouter(prefix="/admin/operations", include_in_schema=False)


def _page(request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
    o = ops_translator(pick_lang(request))
    return render(env, request, template, {"o": o, **context}, status=status)


@router.get("")
async def overview(request: Request) -> Response:
    session = await admin_session(request, "operations")
    if session is None:
        return to_login()
    portal_id = session.portal_id
    async with services_of(request).engine.connect() as conn:
        context = {
            "jobs": await q.job_queue(conn, portal_id),
            "job_states": q.JOB_STATES,
            "failures": await q.job_failures(conn, portal_id),
            "messages": await q.message_counts(conn, portal_id),
            "message_states": q.MESSAGE_STATES,
            "writes": await q.b24_writes(conn, portal_id),
            "parked": await parked_deals(conn, portal_id),
            "health": await q.portal_health(conn, portal_id, services_of(request).now()),
            "done": known(request.query_params.get("done")),
        }
    return _page(request, "operations.html", context)


@router.get("/messages")
async def messages(request: Request, status: str = "failed", channel: str = "") -> Response:
    session = await admin_session(request, "operations")
    if session is None:
        return to_login()
    wanted = status if status in q.MESSAGE_STATES else None
    async with services_of(request).engine.connect() as conn:
        rows = await q.messages(
            conn, session.portal_id, status=wanted, channel=channel[:20] or None
        )
    context = {
        "rows": rows,
        "status": wanted or "",
        "channel": channel[:20],
        "message_states": q.MESSAGE_STATES,
        "done": known(request.query_params.get("done")),
    }
    return _page(request, "operations_messages.html", context)


async def _act(request: Request, action: Any, what: str, subject: str) -> Response | bool:
    """Check the session and the CSRF token, run ``action(conn, portal_id)`` in one unit of
    work with its audit row (``what`` to ``subject``, by the person); a response when refused,
    else what the action said."""
    session = await admin_session(request, "operations")
    if session is None:
        return to_login()
    form = await request.form()
    if not csrf_ok(request, form):
        return _page(request, "operations_refused.html", {}, status=403)
    portal_id = session.portal_id

    async def unit(conn: AsyncConnection) -> bool:
        done = bool(await action(conn, portal_id))
        if done:
            await record(conn, session.actor, what, subject, portal_id=portal_id)
        return done

    return await run_in_transaction(services_of(request).engine, unit)


def _back(request: Request, done: str) -> RedirectResponse:
    back = {k: v for k, v in request.query_params.items() if k in ("status", "channel")}
    return RedirectResponse(
        "/admin/operations/messages?" + urlencode({**back, "done": done}), status_code=303
    )


@router.post("/messages/{message_id}/retry")
async def retry(request: Request, message_id: int) -> Response:
    now = services_of(request).now()

    async def action(conn: AsyncConnection, portal_id: int) -> bool:
        return await retry_message(conn, portal_id, message_id, now)

    done = await _act(request, action, "message.retried", f"message:{message_id}")
    if isinstance(done, Response):
        return done
    return _back(request, "retried_ok" if done else "not_changed")


@router.post("/messages/{message_id}/cancel")
async def cancel(request: Request, message_id: int) -> Response:
    async def action(conn: AsyncConnection, portal_id: int) -> bool:
        return await cancel_message(conn, portal_id, message_id)

    done = await _act(request, action, "message.cancelled", f"message:{message_id}")
    if isinstance(done, Response):
        return done
    return _back(request, "cancelled_ok" if done else "not_changed")


@router.post("/deals/{deal_id}/resync")
async def resync(request: Request, deal_id: int) -> Response:
    """Hint the deal as an event would, and wake the portal's sync."""
    if deal_id <= 0:
        return _page(request, "operations_refused.html", {}, status=400)

    async def action(conn: AsyncConnection, portal_id: int) -> bool:
        await mark_dirty(conn, portal_id, [deal_id], "admin")
        await defer_sync(conn, portal_id)
        return True

    done = await _act(request, action, "deal.resynced", f"deal:{deal_id}")
    if isinstance(done, Response):
        return done
    return RedirectResponse("/admin/operations?done=resynced#parked", status_code=303)
