"""``/api/v1`` for sites and cash desks: cards, customers, balances and history (scope
``cards:read``), and manual grants (``grants:write``). The POS flow is :mod:`kopilka.pos`.

Every answer other than 2xx is the one error shape (:mod:`kopilka.api.errors`); every write
takes an ``Idempotency-Key`` (:mod:`kopilka.api.idempotency`). Amounts are integer minor units.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.api.errors import ApiError, FieldProblem
from kopilka.api.handlers import (
    READ_ERRORS,
    WRITE_ERRORS,
    Granter,
    IdemKey,
    Reader,
    program_for,
    read,
    run,
    select_customer,
    services_of,
    written,
)
from kopilka.api.portal import (
    CustomerRef,
    contact_id_of,
    customer_by_card,
    customer_by_id,
    customer_level,
)
from kopilka.api.schemas import (
    BalanceView,
    CardInfo,
    CustomerSelector,
    CustomerView,
    ExpiringLot,
    GrantBody,
    GrantView,
    HistoryItem,
    HistoryView,
    LevelView,
)
from kopilka.bitrix24.bonuses import audit_grant, reflect_grant
from kopilka.bitrix24.connections import is_connected
from kopilka.bitrix24.daily import serialise_with_sync
from kopilka.bitrix24.deferred import defer_sync
from kopilka.ledger.grants import grant
from kopilka.ledger.queries import balance, history
from kopilka.ledger.types import Book
from kopilka.program.model import Program

router = APIRouter(prefix="/api/v1", tags=["public API"])


async def customer_view(
    conn: AsyncConnection, book: Book, program: Program, customer: CustomerRef, now: datetime
) -> CustomerView:
    level = await customer_level(conn, book, program, customer, now)
    return CustomerView(
        customer_id=customer.id,
        name=customer.name,
        phone=customer.phone,
        card=CardInfo(number=customer.card_number, status=customer.card_status or "active")
        if customer.card_number
        else None,
        balance=await balance_view(conn, book, customer.id, now),
        level=LevelView(
            level_id=level.level_id,
            title=level.title,
            percent=str(level.percent),
            metric=level.metric,
            next_level_id=level.next_level_id,
            next_threshold=level.next_threshold,
            remaining_to_next=level.remaining_to_next,
        )
        if level
        else None,
    )


async def balance_view(
    conn: AsyncConnection, book: Book, customer_id: int, now: datetime
) -> BalanceView:
    b = await balance(conn, book, customer_id, now)
    return BalanceView(
        customer_id=customer_id,
        total=b.total,
        available=b.available,
        pending=b.pending,
        held=b.held,
        expiring=[
            ExpiringLot(amount=lot.remaining, expires_at=lot.expires_at)
            for lot in b.expiring
            if lot.expires_at is not None
        ],
    )


@router.get("/cards/{number}", responses=READ_ERRORS, summary="Look up a card")
async def get_card(request: Request, number: str, who: Reader) -> CustomerView:
    """The card's holder with their balance and level; ``number`` as typed (any phone format)."""
    now = services_of(request).now()

    async def unit(conn: AsyncConnection) -> CustomerView:
        book, program = await program_for(conn, who.portal_id)
        customer = await customer_by_card(conn, who.portal_id, number)
        return await customer_view(conn, book, program, customer, now)

    return await run(request, unit)


@router.get("/customers", responses=READ_ERRORS, summary="Look up a customer by phone or card")
async def find_customer(
    request: Request,
    who: Reader,
    phone: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
    card: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
) -> CustomerView:
    if (phone is None) == (card is None):
        raise ApiError(
            422,
            "invalid_request",
            "give exactly one of phone or card",
            [FieldProblem(field="phone", code="one_of", message="phone or card")],
        )
    selector = CustomerSelector(phone=phone, card=card)
    now = services_of(request).now()

    async def unit(conn: AsyncConnection) -> CustomerView:
        book, program = await program_for(conn, who.portal_id)
        customer = await select_customer(conn, who.portal_id, selector)
        return await customer_view(conn, book, program, customer, now)

    return await run(request, unit)


@router.get(
    "/customers/{customer_id}/balance", responses=READ_ERRORS, summary="A customer's balance"
)
async def get_balance(request: Request, customer_id: int, who: Reader) -> BalanceView:
    if not 1 <= customer_id <= 2**62:
        raise ApiError(404, "unknown_customer", f"no customer #{customer_id} in this portal")
    now = services_of(request).now()

    async def unit(conn: AsyncConnection) -> BalanceView:
        book, _ = await program_for(conn, who.portal_id)
        view = await balance_view(conn, book, customer_id, now)
        if view.total == 0 and view.held == 0:
            await customer_by_id(conn, who.portal_id, customer_id)  # 404 for a stranger
        return view

    return await read(request, unit)


@router.get(
    "/customers/{customer_id}/history", responses=READ_ERRORS, summary="A customer's history"
)
async def get_history(
    request: Request,
    customer_id: int,
    who: Reader,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> HistoryView:
    if not 1 <= customer_id <= 2**62:
        raise ApiError(404, "unknown_customer", f"no customer #{customer_id} in this portal")

    async def unit(conn: AsyncConnection) -> HistoryView:
        book, _ = await program_for(conn, who.portal_id)
        await customer_by_id(conn, who.portal_id, customer_id)
        lines = await history(conn, book, customer_id, limit=limit)
        return HistoryView(
            customer_id=customer_id,
            items=[
                HistoryItem(
                    id=h.transaction_id,
                    kind=h.kind,
                    amount=h.amount,
                    held=h.held,
                    reason=h.reason,
                    at=h.effective_at,
                    reverses=h.reverses_id,
                )
                for h in lines
            ],
        )

    return await run(request, unit)


@router.post(
    "/grants",
    responses=WRITE_ERRORS,
    status_code=201,
    response_model=GrantView,
    summary="Grant a manual bonus",
)
async def post_grant(
    request: Request, body: GrantBody, who: Granter, key: IdemKey = None
) -> JSONResponse:
    """A bonus from the program's ``manual_bonuses`` (its limits apply), recording who and why."""

    async def work(conn: AsyncConnection, book: Book, program: Program, now: datetime) -> GrantView:
        contact = None
        connected = await is_connected(conn, who.portal_id)
        if connected:  # the portal's fields will be recomputed: not alongside a running sync
            await serialise_with_sync(conn, who.portal_id)
        customer = await select_customer(conn, who.portal_id, body.customer)
        contact = contact_id_of(customer.external_id) if connected else None
        posted = await grant(
            conn,
            book,
            program,
            customer_id=customer.id,
            reason=body.reason,
            amount=body.amount,
            actor=f"api:{who.name}:{body.actor}",
            key=f"api-grant:{who.portal_id}:{key}",
            now=now,
            comment=body.comment,
            source="api",
        )
        if contact is not None:  # a Bitrix24 contact: its card and timeline show the grant
            await reflect_grant(conn, book, program, who.portal_id, contact, posted, now)
            await defer_sync(conn, who.portal_id)  # the writes go out with the portal's sync
        if not posted.replayed:
            await audit_grant(conn, posted.actor, who.portal_id, f"customer:{customer.id}", posted)
        earned = sum(leg.amount for leg in posted.legs if leg.account_kind == "customer")
        return GrantView(
            transaction_id=posted.id, customer_id=customer.id, amount=earned, reason=posted.reason
        )

    return await written(request, who, key, body, work, status=201)
