"""Refund, whole or by line: the points the refunded part paid with given back, what it earned
taken back — spent points put back first, and nothing written when even that is not there."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.api.portal import CustomerRef
from kopilka.api.schemas import (
    OrderView,
)
from kopilka.db.tables import (
    pos_order_lines,
    pos_orders,
)
from kopilka.ledger.reversal import reverse
from kopilka.ledger.spending import redeem
from kopilka.ledger.types import Book
from kopilka.pos.orders import (
    OrderNotOpen,
    UnknownLine,
    live_entries,
    lock_for,
    order_lines,
    order_view,
    reference,
)
from kopilka.pos.pricing import Line
from kopilka.pos.service import earn_on
from kopilka.program.model import Program


async def refund(
    conn: AsyncConnection,
    book: Book,
    program: Program,
    customer: CustomerRef,
    order_id: str,
    line_ids: Sequence[str] | None,
    *,
    now: datetime,
    actor: str,
) -> OrderView:
    row = await lock_for(conn, book, order_id)
    if row.status != "committed":
        raise OrderNotOpen(
            f"order {order_id!r} is {row.status}: only a committed order is refunded"
        )
    stored = await order_lines(conn, row.id)
    open_lines = {r.line_id: r for r in stored if r.refunded_at is None}
    wanted = list(open_lines) if line_ids is None else list(dict.fromkeys(line_ids))
    unknown = [x for x in wanted if x not in open_lines]
    if unknown:
        raise UnknownLine(f"no unrefunded line {unknown[0]!r} in order {order_id!r}")
    kept = [
        Line(r.line_id, r.name, r.price, r.quantity, r.section_id)
        for r in stored
        if r.refunded_at is None and r.line_id not in wanted
    ]
    kept_total = sum(line.total for line in kept)
    total = int(row.total)
    paid = int(row.points_paid)
    step = program.points.step_minor
    new_paid = (paid * kept_total // total) // step * step if total else 0
    ref = reference(order_id)
    payments, accruals, seq = await live_entries(conn, book, ref)
    tag = f"refund{seq}"
    common: dict[str, Any] = {"actor": actor, "now": now, "source": f"order {order_id}"}
    what = "частичный возврат" if kept else "возврат"
    # Spent points back first, then the kept part pays again, then earned points are taken back.
    for tx_id in payments:
        await reverse(
            conn,
            book,
            transaction_id=tx_id,
            key=f"{ref}:{tag}:restore:{tx_id}",
            reason=f"Заказ №{order_id}, {what}: баллы за оплату возвращены",
            **common,
        )
    if new_paid > 0:
        await redeem(
            conn,
            book,
            customer_id=customer.id,
            amount=new_paid,
            key=f"{ref}:{tag}:pay",
            reason=f"Оплата баллами заказа №{order_id} после частичного возврата",
            reference=ref,
            **common,
        )
    for tx_id in accruals:
        await reverse(
            conn,
            book,
            transaction_id=tx_id,
            key=f"{ref}:{tag}:takeback:{tx_id}",
            reason=f"Заказ №{order_id}, {what}: начисление отменено",
            **common,
        )
    await earn_on(
        conn,
        book,
        program,
        customer,
        order_id,
        kept,
        int(row.pipeline_id),
        new_paid,
        now=now,
        actor=actor,
        tag=tag,
    )
    await conn.execute(
        update(pos_order_lines)
        .where(pos_order_lines.c.order_pk == row.id, pos_order_lines.c.line_id.in_(wanted))
        .values(refunded_at=now)
    )
    await conn.execute(
        update(pos_orders)
        .where(pos_orders.c.id == row.id)
        .values(
            points_paid=new_paid,
            status="committed" if kept else "refunded",
            closed_at=None if kept else now,
        )
    )
    return await order_view(conn, book, order_id)
