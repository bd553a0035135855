"""Hold, commit, cancel: the order's points reserved, captured (and earned on the part paid in
money), or released — each step a replay when repeated for the same order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.api.portal import CustomerRef, customer_history
from kopilka.api.schemas import (
    OrderView,
    Quote,
)
from kopilka.db.tables import (
    pos_order_lines,
    pos_orders,
)
from kopilka.ledger import book as books
from kopilka.ledger.accrual import accrue
from kopilka.ledger.deals import within_budgets
from kopilka.ledger.spending import capture_hold, get_hold, place_hold, release_hold
from kopilka.ledger.types import Book
from kopilka.pos.orders import (
    HoldExpired,
    OrderExists,
    OrderNotOpen,
    lock_for,
    order_lines,
    order_view,
    reference,
)
from kopilka.pos.pricing import Line, evaluate, quote
from kopilka.program.model import Program


async def hold(
    conn: AsyncConnection,
    book: Book,
    program: Program,
    customer: CustomerRef,
    lines: Sequence[Line],
    *,
    order_id: str,
    pay_points: int | None,
    pipeline_id: int,
    ttl: timedelta | None,
    now: datetime,
    actor: str,
) -> tuple[OrderView, Quote]:
    await books.account(conn, book, "customer", customer.id, lock=True)
    exists = await conn.scalar(
        select(pos_orders.c.id).where(
            pos_orders.c.portal_id == book.portal_id, pos_orders.c.order_id == order_id
        )
    )
    if exists is not None:
        raise OrderExists(f"order {order_id!r} already exists: commit, cancel or refund it")
    q = await quote(
        conn,
        book,
        program,
        customer,
        lines,
        pay_points=pay_points,
        pipeline_id=pipeline_id,
        now=now,
        order_id=order_id,
    )
    hold_id = None
    if q.pay_points > 0:
        placed = await place_hold(
            conn,
            book,
            customer_id=customer.id,
            amount=q.pay_points,
            key=f"{reference(order_id)}:hold",
            reason=f"Резерв баллов для оплаты заказа №{order_id}",
            actor=actor,
            now=now,
            expires_at=now + (ttl or timedelta(hours=program.redemption.hold_ttl_hours)),
            reference=reference(order_id),
            source=f"order {order_id}",
        )
        hold_id = placed.id
    pk = await conn.scalar(
        insert(pos_orders)
        .values(
            portal_id=book.portal_id,
            program_id=book.program_id,
            order_id=order_id,
            customer_id=customer.id,
            status="held",
            pipeline_id=pipeline_id,
            total=q.order_total,
            points_paid=q.pay_points,
            hold_id=hold_id,
            created_at=now,
        )
        .returning(pos_orders.c.id)
    )
    await conn.execute(
        insert(pos_order_lines),
        [
            {
                "order_pk": pk,
                "line_id": line.id,
                "position": i,
                "name": line.name,
                "price": line.price,
                "quantity": line.quantity,
                "section_id": line.section_id,
            }
            for i, line in enumerate(lines)
        ],
    )
    return await order_view(conn, book, order_id), q


async def commit(
    conn: AsyncConnection,
    book: Book,
    program: Program,
    customer: CustomerRef,
    order_id: str,
    *,
    now: datetime,
    actor: str,
) -> OrderView:
    row = await lock_for(conn, book, order_id)
    if row.status == "committed":
        return await order_view(conn, book, order_id)
    if row.status != "held":
        raise OrderNotOpen(f"order {order_id!r} is {row.status}")
    ref = reference(order_id)
    if row.hold_id is not None:
        h = await get_hold(conn, book, int(row.hold_id))
        if h.status != "active" or h.expires_at <= now:
            raise HoldExpired(
                f"the points held for order {order_id!r} were released when the hold expired "
                f"({h.expires_at.isoformat()}): cancel it and hold again"
            )
        await capture_hold(
            conn,
            book,
            hold_id=h.id,
            key=f"{ref}:capture",
            actor=actor,
            now=now,
            reason=f"Оплата баллами заказа №{order_id}",
            source=f"order {order_id}",
        )
    lines = [
        Line(r.line_id, r.name, r.price, r.quantity, r.section_id)
        for r in await order_lines(conn, row.id)
    ]
    await earn_on(
        conn,
        book,
        program,
        customer,
        order_id,
        lines,
        int(row.pipeline_id),
        int(row.points_paid),
        now=now,
        actor=actor,
        tag="commit",
    )
    await conn.execute(
        update(pos_orders)
        .where(pos_orders.c.id == row.id)
        .values(status="committed", committed_at=now)
    )
    return await order_view(conn, book, order_id)


async def earn_on(
    conn: AsyncConnection,
    book: Book,
    program: Program,
    customer: CustomerRef,
    order_id: str,
    lines: Sequence[Line],
    pipeline_id: int,
    paid: int,
    *,
    now: datetime,
    actor: str,
    tag: str,
) -> None:
    if not lines:
        return
    history = await customer_history(conn, book, program, customer, now, exclude_order=order_id)
    effects = evaluate(
        program,
        customer.id,
        lines,
        pipeline_id=pipeline_id,
        pay=paid,
        available=paid,
        history=history,
        now=now,
    )
    # a campaign's budget is taken under its lock, as for a deal (ledger.deals.budget)
    effects = await within_budgets(conn, book, program, reference(order_id), effects)
    for acc in effects.accruals:
        if acc.amount <= 0:
            continue
        await accrue(
            conn,
            book,
            customer_id=customer.id,
            amount=acc.amount,
            key=f"{reference(order_id)}:{tag}:accrual:{acc.rule_id}",
            reason=f"заказ №{order_id}: {acc.explanation_ru}",
            actor=actor,
            now=now,
            source=f"order {order_id}",
            rule_id=acc.rule_id,
            rule_inputs=acc.rule_inputs,
            available_at=acc.available_at,
            expires_at=acc.expires_at,
            reference=reference(order_id),
        )


async def cancel(
    conn: AsyncConnection, book: Book, order_id: str, *, now: datetime, actor: str
) -> OrderView:
    row = await lock_for(conn, book, order_id)
    if row.status == "cancelled":
        return await order_view(conn, book, order_id)
    if row.status != "held":
        raise OrderNotOpen(f"order {order_id!r} is {row.status}: refund it instead")
    if row.hold_id is not None:
        h = await get_hold(conn, book, int(row.hold_id))
        if h.status == "active":
            await release_hold(
                conn,
                book,
                hold_id=h.id,
                key=f"{reference(order_id)}:release",
                actor=actor,
                now=now,
                reason=f"Заказ №{order_id} отменён: резерв снят",
                source=f"order {order_id}",
            )
    await conn.execute(
        update(pos_orders)
        .where(pos_orders.c.id == row.id)
        .values(status="cancelled", closed_at=now)
    )
    return await order_view(conn, book, order_id)
