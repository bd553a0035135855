"""Acting in the admin (issue 18, item 2): a manual grant (posted, or waiting for approval above
the threshold: :mod:`.grants`), reversing a wrong manual entry, and the owners' approvals.

Each is one transaction with its audit row; a refusal writes nothing and says why on the page.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.admin.auth import AdminSession, current
from kopilka.admin.grants import NotAllowed, OwnRequest, RequestDecided, decide, grant_or_request
from kopilka.admin.i18n import pick, translator
from kopilka.admin.web import back, locale_of, page, to_login
from kopilka.api.portal import contact_id_of, current_program
from kopilka.audit import record
from kopilka.b24app import texts as b24texts
from kopilka.b24app.contact_grant import refusal, typed_number
from kopilka.bitrix24.errors import B24Error
from kopilka.cabinet.web import csrf_ok, services_of
from kopilka.cards.service import ContactNotFound, issue_by_hand
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import admin_grant_requests, admin_users, customers
from kopilka.domain.errors import KopilkaError
from kopilka.domain.manual import ManualGrantRefused
from kopilka.domain.money import format_points, to_minor
from kopilka.ledger.posting import load_posted
from kopilka.ledger.reversal import reverse

router = APIRouter()


async def _acting(request: Request, what: str) -> tuple[AdminSession, dict[str, str]] | Response:
    me = await current(request)
    if me is None:
        return to_login()
    form = {k: str(v) for k, v in (await request.form()).items()}
    if not csrf_ok(request, await request.form()):
        return Response("CSRF", status_code=403)
    if not me.may(what):
        return Response("forbidden", status_code=403)
    return me, form


async def _lang(request: Request, me: AdminSession) -> str:
    async with services_of(request).engine.connect() as conn:
        return pick(request, await locale_of(conn, me.portal_id))


@router.post("/customers/{customer_id}/grant")
async def grant_here(request: Request, customer_id: int) -> Response:
    got = await _acting(request, "grant")
    if isinstance(got, Response):
        return got
    me, form = got
    services = services_of(request)
    lang = await _lang(request, me)
    a = translator(lang)
    path = f"/admin/customers/{customer_id}"
    key = form.get("key", "")[:64] or secrets.token_urlsafe(16)
    threshold = services.settings.admin_grant_approval_above * 100
    try:
        amount = to_minor(typed_number(form.get("amount", ""))) if form.get("amount") else None

        async def unit(conn: AsyncConnection) -> tuple[int | None, int | None]:
            outcome = await grant_or_request(
                conn,
                me,
                customer_id=customer_id,
                reason=form.get("reason", ""),
                amount=amount,
                comment=form.get("comment", "").strip()[:1000],
                key=f"admin-grant:{me.portal_id}:{me.user_id}:{key}",
                threshold=threshold,
                now=services.now(),
            )
            if outcome.posted is not None:
                earned = sum(
                    leg.amount for leg in outcome.posted.legs if leg.account_kind == "customer"
                )
                return earned, None
            return None, outcome.request_id

        earned, request_id = await run_in_transaction(services.engine, unit)
    except ManualGrantRefused as exc:
        why = refusal(b24texts.translator(lang), lang, exc)
        return back(path, a("refused", why=why))
    except KopilkaError as exc:
        return back(path, a("refused", why=exc.message))
    if request_id is not None:
        limit = format_points(threshold)
        return back(path, a("requested", limit=limit, n=request_id))
    return back(path, a("granted", points=format_points(earned or 0)))


@router.post("/customers/{customer_id}/reverse")
async def reverse_here(request: Request, customer_id: int) -> Response:
    """Reverse a wrong manual entry (only a manual grant: the rest is the deals' own business)."""
    got = await _acting(request, "reverse")
    if isinstance(got, Response):
        return got
    me, form = got
    services = services_of(request)
    a = translator(await _lang(request, me))
    path = f"/admin/customers/{customer_id}"
    raw = form.get("transaction_id", "")
    why = form.get("why", "").strip()[:500]
    if not raw.isdigit() or not why:
        return back(path, a("refused", why=a("why")))

    async def unit(conn: AsyncConnection) -> int:
        book, _program = await current_program(conn, me.portal_id)
        original = await load_posted(conn, int(raw))
        mine = {leg.customer_id for leg in original.legs if leg.customer_id is not None}
        if (
            original.kind != "accrual"
            or not (original.rule_id or "").startswith("manual:")
            or mine != {customer_id}
        ):
            raise NotAllowed("only a manual grant of this customer is reversed here")
        now = services.now()
        posted = await reverse(
            conn,
            book,
            transaction_id=int(raw),
            key=f"admin-reverse:{raw}",
            reason=why,
            actor=me.actor,
            now=now,
            source="admin",
        )
        details = {"transaction": int(raw), "reversal": posted.id}
        await record(
            conn,
            me.actor,
            "entry.reversed",
            f"customer:{customer_id}",
            details,
            why,
            portal_id=me.portal_id,
            at=now,
        )
        return posted.id

    try:
        await run_in_transaction(services.engine, unit)
    except KopilkaError as exc:
        return back(path, a("refused", why=exc.message))
    return back(path, a("reversed"))


@router.post("/customers/{customer_id}/card")
async def card_here(request: Request, customer_id: int) -> Response:
    """Issue the customer's card again (``cards.service.issue_by_hand``, as the Bitrix24 tab and
    the CLI do): a missing card is issued, an existing one written to the contact again."""
    got = await _acting(request, "card")
    if isinstance(got, Response):
        return got
    me, _form = got
    services = services_of(request)
    a = translator(await _lang(request, me))
    path = f"/admin/customers/{customer_id}"
    async with services.engine.connect() as conn:
        external = await conn.scalar(
            select(customers.c.external_id).where(
                customers.c.id == customer_id, customers.c.portal_id == me.portal_id
            )
        )
    contact = contact_id_of(str(external or ""))
    if contact is None:
        return back(path, a("refused", why=a("card.no_contact")))
    try:
        outcome = await issue_by_hand(services, me.portal_id, contact, actor=me.actor)
    except (ContactNotFound, B24Error, KopilkaError) as exc:
        return back(path, a("refused", why=str(exc)))
    if outcome.number is None:
        return back(path, a("refused", why=a(f"card.{outcome.status}")))
    return back(path, a("reissued", n=outcome.number))


@router.get("/requests")
async def requests_page(request: Request, note: str = "") -> Response:
    me = await current(request)
    if me is None:
        return to_login()
    if not me.may("approve"):
        return Response("forbidden", status_code=403)
    r = admin_grant_requests.c
    async with services_of(request).engine.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    admin_grant_requests,
                    admin_users.c.login,
                    admin_users.c.name,
                    customers.c.name.label("customer"),
                )
                .join(admin_users, admin_users.c.id == r.requested_by)
                .join(customers, customers.c.id == r.customer_id)
                .where(r.portal_id == me.portal_id, r.status == "pending")
                .order_by(r.id)
            )
        ).all()
        locale = await locale_of(conn, me.portal_id)
    return page(
        request, me, "admin_requests.html", {"rows": rows, "note": note[:300]}, locale=locale
    )


@router.post("/requests/{request_id}")
async def decide_here(request: Request, request_id: int) -> Response:
    got = await _acting(request, "approve")
    if isinstance(got, Response):
        return got
    me, form = got
    services = services_of(request)
    a = translator(await _lang(request, me))
    approve = form.get("decision") == "approve"
    now: datetime = services.now()

    async def unit(conn: AsyncConnection) -> int | None:
        posted = await decide(
            conn, me, request_id, approve=approve, note=form.get("note", "")[:500], now=now
        )
        return posted.id if posted is not None else None

    try:
        tx = await run_in_transaction(services.engine, unit)
    except OwnRequest:
        return back("/admin/requests", a("req.own"))
    except RequestDecided:
        return back("/admin/requests", a("req.decided"))
    except ManualGrantRefused as exc:
        lang = await _lang(request, me)
        return back(
            "/admin/requests", a("refused", why=refusal(b24texts.translator(lang), lang, exc))
        )
    except KopilkaError as exc:
        return back("/admin/requests", a("refused", why=exc.message))
    return back("/admin/requests", a("req.approved", n=tx) if approve else a("req.rejected"))
