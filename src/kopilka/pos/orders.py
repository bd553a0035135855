"""The orders of the POS flow: their rows (``pos_orders``, ``pos_order_lines``), how they are
found and locked, what an order looks like to a till, and the flow's errors."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from kopilka.api.schemas import (
    HoldInfo,
    LineView,
    OrderView,
)
from kopilka.db.tables import (
    accounts,
    ledger_entries,
    ledger_transactions,
    pos_order_lines,
    pos_orders,
)
from kopilka.domain.errors import Conflict, InvalidCommand, NotFound
from kopilka.ledger import book as books
from kopilka.ledger.spending import get_hold, release_hold
from kopilka.ledger.types import Book


class UnknownOrder(NotFound):
    code = "unknown_order"


class OrderExists(Conflict):
    code = "order_exists"


class OrderNotOpen(Conflict):
    code = "order_not_open"


class HoldExpired(Conflict):
    code = "hold_expired"


class UnknownLine(InvalidCommand):
    code = "unknown_line"


def reference(order_id: str) -> str:
    return f"pos:{order_id}"


async def find_order(conn: AsyncConnection, book: Book, order_id: str, *, lock: bool) -> Any:
    query = select(pos_orders).where(
        pos_orders.c.portal_id == book.portal_id, pos_orders.c.order_id == order_id
    )
    row = (await conn.execute(query.with_for_update() if lock else query)).first()
    if row is None:
        raise UnknownOrder(f"no order {order_id!r}")
    return row


async def order_lines(conn: AsyncConnection, order_pk: int) -> list[Any]:
    return list(
        await conn.execute(
            select(pos_order_lines)
            .where(pos_order_lines.c.order_pk == order_pk)
            .order_by(pos_order_lines.c.position)
        )
    )


async def lock_for(conn: AsyncConnection, book: Book, order_id: str) -> Any:
    """Lock the order's customer account, then the order row (the order every writer takes)."""
    first = await find_order(conn, book, order_id, lock=False)
    await books.account(conn, book, "customer", int(first.customer_id), lock=True)
    return await find_order(conn, book, order_id, lock=True)


async def expire_if_due(conn: AsyncConnection, book: Book, order_id: str, now: datetime) -> bool:
    """Release an open order's hold whose time is up (status ``expired``); True if it did."""
    row = await lock_for(conn, book, order_id)
    if row.status != "held" or row.hold_id is None:
        return False
    h = await get_hold(conn, book, int(row.hold_id))
    if h.status != "active" or h.expires_at > now:
        return False
    await release_hold(
        conn,
        book,
        hold_id=h.id,
        key=f"hold:{h.id}:expire",
        actor="system",
        now=now,
        reason="hold expired",
        status="expired",
    )
    return True


async def live_entries(
    conn: AsyncConnection, book: Book, ref: str
) -> tuple[list[int], list[int], int]:
    """The order's standing payments (capture/redemption) and accruals, and how many ledger
    transactions it has (numbers the next keys)."""
    tx = ledger_transactions
    reversal = aliased(ledger_transactions)
    rows = await conn.execute(
        select(tx.c.id, tx.c.kind)
        .outerjoin(reversal, reversal.c.reverses_id == tx.c.id)
        .where(
            tx.c.portal_id == book.portal_id,
            tx.c.program_id == book.program_id,
            tx.c.reference == ref,
            tx.c.kind.in_(("accrual", "capture", "redemption")),
            reversal.c.id.is_(None),
        )
        .order_by(tx.c.id)
    )
    payments: list[int] = []
    accruals: list[int] = []
    for r in rows:
        (accruals if r.kind == "accrual" else payments).append(int(r.id))
    count = await conn.scalar(
        select(func.count()).where(
            tx.c.portal_id == book.portal_id,
            tx.c.program_id == book.program_id,
            tx.c.reference == ref,
        )
    )
    return payments, accruals, int(count or 0)


async def order_view(conn: AsyncConnection, book: Book, order_id: str) -> OrderView:
    row = await find_order(conn, book, order_id, lock=False)
    hold_info = None
    if row.hold_id is not None:
        h = await get_hold(conn, book, int(row.hold_id))
        hold_info = HoldInfo(id=h.id, amount=h.amount, status=h.status, expires_at=h.expires_at)
    earned = await conn.scalar(
        select(func.coalesce(func.sum(ledger_entries.c.amount), 0))
        .select_from(ledger_transactions)
        .join(ledger_entries, ledger_entries.c.transaction_id == ledger_transactions.c.id)
        .join(accounts, accounts.c.id == ledger_entries.c.account_id)
        .where(
            ledger_transactions.c.program_id == book.program_id,
            ledger_transactions.c.reference == reference(order_id),
            ledger_transactions.c.kind.in_(("accrual", "reversal")),
            accounts.c.kind == "customer",
            ledger_entries.c.amount != 0,
        )
        .where(
            (ledger_transactions.c.kind == "accrual")
            | ledger_transactions.c.reverses_id.in_(
                select(ledger_transactions.c.id).where(
                    ledger_transactions.c.kind == "accrual",
                    ledger_transactions.c.reference == reference(order_id),
                )
            )
        )
    )
    lines = [
        LineView(
            id=r.line_id,
            name=r.name,
            price=int(r.price),
            quantity=int(r.quantity),
            section_id=r.section_id,
            refunded=r.refunded_at is not None,
        )
        for r in await order_lines(conn, row.id)
    ]
    return OrderView(
        order_id=row.order_id,
        status=row.status,
        customer_id=int(row.customer_id),
        total=int(row.total),
        points_paid=int(row.points_paid),
        points_earned=int(earned or 0),
        hold=hold_info,
        lines=lines,
    )
