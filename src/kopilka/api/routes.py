"""``/api/v1``: cards and balances for sites and cash desks, the POS flow, manual grants.

Every answer other than 2xx is the one error shape (:mod:`kopilka.api.errors`); every write
takes an ``Idempotency-Key`` (:mod:`kopilka.api.idempotency`). Amounts are integer minor units.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.api import pos
from kopilka.api.errors import ApiError, ErrorResponse, FieldProblem
from kopilka.api.idempotency import HEADER, check_key, once
from kopilka.api.keys import ApiPrincipal, require_scope
from kopilka.api.portal import (
    CustomerRef,
    contact_id_of,
    current_program,
    customer_by_card,
    customer_by_id,
    customer_by_phone,
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
    HoldBody,
    LevelView,
    OrderBody,
    OrderRef,
    OrderView,
    Quote,
    RefundBody,
)
from kopilka.bitrix24.bonuses import reflect_grant
from kopilka.bitrix24.connections import is_connected
from kopilka.bitrix24.daily import serialise_with_sync
from kopilka.bitrix24.deferred import defer_sync
from kopilka.db.engine import run_in_transaction
from kopilka.domain.errors import (
    IdempotencyConflict,
    InvalidAmount,
    InvalidCommand,
    KopilkaError,
    NotFound,
)
from kopilka.domain.manual import ManualGrantRefused
from kopilka.ledger.grants import grant
from kopilka.ledger.queries import balance, history
from kopilka.ledger.types import Book
from kopilka.phones import InvalidPhone
from kopilka.program.model import Program
from kopilka.services import Services

T = TypeVar("T")


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    text = {
        400: "Bad request (e.g. a missing Idempotency-Key)",
        401: "No or an invalid API key",
        403: "The API key lacks the scope",
        404: "Not found",
        409: "Conflicts with the ledger's state",
        422: "The request is not valid",
    }
    return {s: {"model": ErrorResponse, "description": text[s]} for s in statuses}


READ_ERRORS = _errors(401, 403, 404, 422)
WRITE_ERRORS = _errors(400, 401, 403, 404, 409, 422)

router = APIRouter(prefix="/api/v1", tags=["public API"])
Reader = Annotated[ApiPrincipal, Depends(require_scope("cards:read"))]
Till = Annotated[ApiPrincipal, Depends(require_scope("pos:write"))]
Granter = Annotated[ApiPrincipal, Depends(require_scope("grants:write"))]
IdemKey = Annotated[
    str | None,
    Header(alias=HEADER, description="unique per write; a retry with the same key replays"),
]


def as_api_error(exc: KopilkaError) -> ApiError:
    if isinstance(exc, NotFound):
        status = 404
    elif isinstance(exc, IdempotencyConflict | ManualGrantRefused):
        status = 422
    elif isinstance(exc, InvalidAmount | InvalidCommand):
        status = 422
    else:
        status = 409
    return ApiError(status, exc.code, exc.message)


def services_of(request: Request) -> Services:
    services = request.app.state.services
    assert isinstance(services, Services)
    return services


#: The portal's book and program, kept for a few seconds per process (a new program version is
#: seen within that time); the balance lookup then needs no program query at all.
PROGRAM_TTL = 5.0
_programs: dict[int, tuple[float, Book, Program]] = {}


async def program_for(conn: AsyncConnection, portal_id: int) -> tuple[Book, Program]:
    cached = _programs.get(portal_id)
    if cached and cached[0] > time.monotonic():
        return cached[1], cached[2]
    book, program = await current_program(conn, portal_id)
    _programs[portal_id] = (time.monotonic() + PROGRAM_TTL, book, program)
    return book, program


async def run(request: Request, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    try:
        return await run_in_transaction(services_of(request).engine, work)
    except KopilkaError as exc:
        raise as_api_error(exc) from None


async def read(request: Request, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """A read of one statement (or of values that need no common snapshot), outside a
    transaction: no BEGIN/COMMIT round trips on the hot lookup paths."""
    try:
        async with services_of(request).engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            return await work(conn)
    except KopilkaError as exc:
        raise as_api_error(exc) from None


async def select_customer(
    conn: AsyncConnection, portal_id: int, selector: CustomerSelector
) -> CustomerRef:
    if selector.customer_id is not None:
        return await customer_by_id(conn, portal_id, selector.customer_id)
    if selector.card is not None:
        return await customer_by_card(conn, portal_id, selector.card)
    assert selector.phone is not None
    try:
        return await customer_by_phone(conn, portal_id, selector.phone)
    except InvalidPhone as exc:
        raise ApiError(
            422,
            "invalid_phone",
            str(exc),
            [FieldProblem(field="customer.phone", code="invalid_phone", message=str(exc))],
        ) from None


def _json(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


async def written(
    request: Request,
    who: ApiPrincipal,
    key: str | None,
    body: BaseModel,
    work: Callable[[AsyncConnection, Book, Program, datetime], Awaitable[BaseModel]],
    status: int = 200,
) -> JSONResponse:
    """A write: under its Idempotency-Key, in one transaction, answering the model as JSON."""
    idem = check_key(key)
    now = services_of(request).now()

    async def unit(conn: AsyncConnection) -> Any:
        book, program = await program_for(conn, who.portal_id)

        async def act() -> tuple[int, dict[str, Any]]:
            return status, _json(await work(conn, book, program, now))

        return await once(conn, who.portal_id, idem, request.url.path, _json(body), act)

    stored = await run(request, unit)
    headers = {"Idempotent-Replayed": "true"} if stored.replayed else None
    return JSONResponse(stored.body, status_code=stored.status, headers=headers)


# --- reads ---


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


@router.get("/orders/{order_id}", responses=READ_ERRORS, summary="An order of the POS flow")
async def get_order(request: Request, order_id: str, who: Till) -> OrderView:
    async def unit(conn: AsyncConnection) -> OrderView:
        book, _ = await program_for(conn, who.portal_id)
        return await pos.order_view(conn, book, order_id)

    return await run(request, unit)


# --- the POS flow ---


@router.post("/pos/calculate", responses=READ_ERRORS, summary="Dry run of an order")
async def calculate(request: Request, body: OrderBody, who: Till) -> Quote:
    """How much of the order can be paid with points and how much it will earn. Writes nothing,
    so it needs no Idempotency-Key."""
    now = services_of(request).now()

    async def unit(conn: AsyncConnection) -> Quote:
        book, program = await program_for(conn, who.portal_id)
        customer = await select_customer(conn, who.portal_id, body.customer)
        return await pos.quote(
            conn,
            book,
            program,
            customer,
            pos.lines_of(body.lines),
            pay_points=body.pay_points,
            pipeline_id=body.pipeline_id,
            now=now,
        )

    return await run(request, unit)


class HoldAnswer(BaseModel):
    order: OrderView
    quote: Quote


@router.post(
    "/pos/hold",
    responses=WRITE_ERRORS,
    status_code=201,
    response_model=HoldAnswer,
    summary="Open an order and hold its points",
)
async def hold(request: Request, body: HoldBody, who: Till, key: IdemKey = None) -> JSONResponse:
    """Records the order and reserves the points it pays with (``pay_points``, capped by the
    program) until ``ttl_seconds`` pass; ``pay_points: 0`` opens an order paying none."""

    async def work(
        conn: AsyncConnection, book: Book, program: Program, now: datetime
    ) -> HoldAnswer:
        customer = await select_customer(conn, who.portal_id, body.customer)
        order, quote = await pos.hold(
            conn,
            book,
            program,
            customer,
            pos.lines_of(body.lines),
            order_id=body.order_id,
            pay_points=body.pay_points,
            pipeline_id=body.pipeline_id,
            ttl=timedelta(seconds=body.ttl_seconds) if body.ttl_seconds else None,
            now=now,
            actor=f"api:{who.name}",
        )
        return HoldAnswer(order=order, quote=quote)

    return await written(request, who, key, body, work, status=201)


async def _customer_of_order(conn: AsyncConnection, book: Book, order_id: str) -> CustomerRef:
    view = await pos.order_view(conn, book, order_id)
    return await customer_by_id(conn, book.portal_id, view.customer_id)


@router.post(
    "/pos/commit", responses=WRITE_ERRORS, response_model=OrderView, summary="Pay the order"
)
async def commit(request: Request, body: OrderRef, who: Till, key: IdemKey = None) -> JSONResponse:
    """Captures the held points and earns points on the part paid in money. Idempotent by the
    order id: committing a committed order answers the same."""
    check_key(key)
    now = services_of(request).now()

    async def expire(conn: AsyncConnection) -> bool:
        book, _ = await program_for(conn, who.portal_id)
        return await pos.expire_if_due(conn, book, body.order_id, now)

    await run(request, expire)  # an expired hold is released for good, whatever comes next

    async def work(conn: AsyncConnection, book: Book, program: Program, now: datetime) -> OrderView:
        customer = await _customer_of_order(conn, book, body.order_id)
        return await pos.commit(
            conn, book, program, customer, body.order_id, now=now, actor=f"api:{who.name}"
        )

    return await written(request, who, key, body, work)


@router.post(
    "/pos/cancel", responses=WRITE_ERRORS, response_model=OrderView, summary="Cancel an order"
)
async def cancel(request: Request, body: OrderRef, who: Till, key: IdemKey = None) -> JSONResponse:
    async def work(conn: AsyncConnection, book: Book, program: Program, now: datetime) -> OrderView:
        return await pos.cancel(conn, book, body.order_id, now=now, actor=f"api:{who.name}")

    return await written(request, who, key, body, work)


@router.post(
    "/pos/refund", responses=WRITE_ERRORS, response_model=OrderView, summary="Refund an order"
)
async def refund(
    request: Request, body: RefundBody, who: Till, key: IdemKey = None
) -> JSONResponse:
    """Whole (no ``line_ids``) or by line: spent points come back, earned points are taken back
    (refused with ``insufficient_points`` when the customer no longer has them)."""

    async def work(conn: AsyncConnection, book: Book, program: Program, now: datetime) -> OrderView:
        customer = await _customer_of_order(conn, book, body.order_id)
        return await pos.refund(
            conn,
            book,
            program,
            customer,
            body.order_id,
            body.line_ids,
            now=now,
            actor=f"api:{who.name}",
        )

    return await written(request, who, key, body, work)


# --- manual grants ---


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
        earned = sum(leg.amount for leg in posted.legs if leg.account_kind == "customer")
        return GrantView(
            transaction_id=posted.id, customer_id=customer.id, amount=earned, reason=posted.reason
        )

    return await written(request, who, key, body, work, status=201)
