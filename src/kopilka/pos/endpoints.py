"""``/api/v1`` for cash desks: an order's calculate, hold, commit, cancel and refund, and the
order as it stands (scope ``pos:write``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.api.handlers import (
    READ_ERRORS,
    WRITE_ERRORS,
    IdemKey,
    Till,
    program_for,
    run,
    select_customer,
    services_of,
    written,
)
from kopilka.api.idempotency import check_key
from kopilka.api.portal import (
    CustomerRef,
    customer_by_id,
)
from kopilka.api.schemas import (
    HoldBody,
    OrderBody,
    OrderRef,
    OrderView,
    Quote,
    RefundBody,
)
from kopilka.ledger.types import Book
from kopilka.pos import orders, pricing, refunds, service
from kopilka.program.model import Program

router = APIRouter(prefix="/api/v1", tags=["public API"])


@router.get("/orders/{order_id}", responses=READ_ERRORS, summary="An order of the POS flow")
async def get_order(request: Request, order_id: str, who: Till) -> OrderView:
    async def unit(conn: AsyncConnection) -> OrderView:
        book, _ = await program_for(conn, who.portal_id)
        return await orders.order_view(conn, book, order_id)

    return await run(request, unit)


@router.post("/pos/calculate", responses=READ_ERRORS, summary="Dry run of an order")
async def calculate(request: Request, body: OrderBody, who: Till) -> Quote:
    """How much of the order can be paid with points and how much it will earn. Writes nothing,
    so it needs no Idempotency-Key."""
    now = services_of(request).now()

    async def unit(conn: AsyncConnection) -> Quote:
        book, program = await program_for(conn, who.portal_id)
        customer = await select_customer(conn, who.portal_id, body.customer)
        return await pricing.quote(
            conn,
            book,
            program,
            customer,
            pricing.lines_of(body.lines),
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
        order, quote = await service.hold(
            conn,
            book,
            program,
            customer,
            pricing.lines_of(body.lines),
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
    view = await orders.order_view(conn, book, order_id)
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
        return await orders.expire_if_due(conn, book, body.order_id, now)

    await run(request, expire)  # an expired hold is released for good, whatever comes next

    async def work(conn: AsyncConnection, book: Book, program: Program, now: datetime) -> OrderView:
        customer = await _customer_of_order(conn, book, body.order_id)
        return await service.commit(
            conn, book, program, customer, body.order_id, now=now, actor=f"api:{who.name}"
        )

    return await written(request, who, key, body, work)


@router.post(
    "/pos/cancel", responses=WRITE_ERRORS, response_model=OrderView, summary="Cancel an order"
)
async def cancel(request: Request, body: OrderRef, who: Till, key: IdemKey = None) -> JSONResponse:
    async def work(conn: AsyncConnection, book: Book, program: Program, now: datetime) -> OrderView:
        return await service.cancel(conn, book, body.order_id, now=now, actor=f"api:{who.name}")

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
        return await refunds.refund(
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
