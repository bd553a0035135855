"""The cash desk's flow: calculate, hold, commit, cancel, refund — an order at a time.

Points of an order move in the ledger under the reference ``pos:<order_id>``; the ``pos_orders``
row says where the order stands. Every step runs in the caller's transaction with the customer's
account row locked first (so two cash desks spending one balance take turns and the second sees
what the first took), and every posting has a key derived from the order, so a step repeated
for the same order is a replay, not a second posting.

* **calculate** asks the program's engine what the order may pay with points (the program's
  ``redemption.max_share``, the balance) and what it will earn — nothing is written;
* **hold** records the order and reserves the points for ``ttl`` (the program's hold TTL);
* **commit** captures the hold and earns points on the part paid in money; committing a
  committed order answers the same (idempotent by order id);
* **cancel** releases the hold of an open order;
* **refund** (whole, or some lines) gives back the points the refunded part paid with and takes
  back what it earned: the payment is reversed, the kept part pays again, the accruals are
  reversed and the kept part earns again. Spent points put back come first, so a customer who
  spent the earned points is short only by the difference; when even that is not there the
  refund is refused with ``insufficient_points`` and nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from kopilka.api.portal import CustomerRef, customer_history
from kopilka.api.schemas import (
    EarnLine,
    HoldInfo,
    LineView,
    OrderLine,
    OrderView,
    Quote,
)
from kopilka.db.tables import (
    accounts,
    ledger_entries,
    ledger_transactions,
    pos_order_lines,
    pos_orders,
)
from kopilka.domain.deal import Contact, CustomerHistory, Deal, ProductRow
from kopilka.domain.effects import DealEffects
from kopilka.domain.engine import evaluate_deal
from kopilka.domain.errors import Conflict, InvalidCommand, NotFound
from kopilka.ledger import book as books
from kopilka.ledger.accrual import accrue
from kopilka.ledger.queries import balance
from kopilka.ledger.reversal import reverse
from kopilka.ledger.spending import capture_hold, get_hold, place_hold, redeem, release_hold
from kopilka.ledger.types import Book
from kopilka.program.model import Program

MOST = 10**15  # "as many as allowed": the engine caps it by the share and the balance


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


@dataclass(frozen=True, slots=True)
class Line:
    id: str
    name: str
    price: int
    quantity: int
    section_id: int | None

    @property
    def total(self) -> int:
        return self.price * self.quantity


def lines_of(body: Sequence[OrderLine]) -> list[Line]:
    return [Line(x.id, x.name, x.price, x.quantity, x.section_id) for x in body]


def evaluate(
    program: Program,
    customer_id: int,
    lines: Sequence[Line],
    *,
    pipeline_id: int,
    pay: int,
    available: int,
    history: CustomerHistory,
    now: datetime,
) -> DealEffects:
    """The engine's view of an order as a won deal of one contact (the customer)."""
    deal = Deal(
        id=0,
        pipeline_id=pipeline_id,
        stage="won",
        opportunity=sum(line.total for line in lines),
        contacts=(Contact(id=customer_id, is_primary=True),),
        rows=tuple(
            ProductRow(None, line.name, line.price, line.quantity, line.section_id)
            for line in lines
        ),
        points_to_pay=pay,
        closed_at=now,
    )
    return evaluate_deal(
        program, deal, {customer_id: replace(history, available_points=available)}, now
    )


async def quote(
    conn: AsyncConnection,
    book: Book,
    program: Program,
    customer: CustomerRef,
    lines: Sequence[Line],
    *,
    pay_points: int | None,
    pipeline_id: int,
    now: datetime,
    order_id: str | None = None,
) -> Quote:
    """What the order may pay with points and what it will earn (reads only)."""
    available = (await balance(conn, book, customer.id, now)).available
    history = await customer_history(conn, book, program, customer, now, exclude_order=order_id)
    asked = MOST if pay_points is None else pay_points
    effects = evaluate(
        program,
        customer.id,
        lines,
        pipeline_id=pipeline_id,
        pay=asked,
        available=available,
        history=history,
        now=now,
    )
    red = effects.redemption
    pay = red.amount if red else 0
    cap = red.cap if red else 0
    if pay_points == 0:
        # nothing asked: still tell the till the most it could pay
        most = evaluate(
            program,
            customer.id,
            lines,
            pipeline_id=pipeline_id,
            pay=MOST,
            available=available,
            history=history,
            now=now,
        ).redemption
        cap = most.cap if most else 0
    earn = [
        EarnLine(
            rule_id=a.rule_id,
            amount=a.amount,
            explanation_ru=a.explanation_ru,
            explanation_en=a.explanation_en,
        )
        for a in effects.accruals
    ]
    return Quote(
        customer_id=customer.id,
        order_total=sum(line.total for line in lines),
        eligible_total=effects.eligible_amount,
        available=available,
        pay_points=pay,
        max_payable=cap,
        capped_by=red.capped_by if red and pay_points is not None else "none",
        earn=sum(e.amount for e in earn),
        earn_lines=earn,
        explanation_ru=red.explanation_ru if red and pay_points is not None else "",
        explanation_en=red.explanation_en if red and pay_points is not None else "",
    )


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


async def _order(conn: AsyncConnection, book: Book, order_id: str, *, lock: bool) -> Any:
    query = select(pos_orders).where(
        pos_orders.c.portal_id == book.portal_id, pos_orders.c.order_id == order_id
    )
    row = (await conn.execute(query.with_for_update() if lock else query)).first()
    if row is None:
        raise UnknownOrder(f"no order {order_id!r}")
    return row


async def _lines(conn: AsyncConnection, order_pk: int) -> list[Any]:
    return list(
        await conn.execute(
            select(pos_order_lines)
            .where(pos_order_lines.c.order_pk == order_pk)
            .order_by(pos_order_lines.c.position)
        )
    )


async def _lock_for(conn: AsyncConnection, book: Book, order_id: str) -> Any:
    """Lock the order's customer account, then the order row (the order every writer takes)."""
    first = await _order(conn, book, order_id, lock=False)
    await books.account(conn, book, "customer", int(first.customer_id), lock=True)
    return await _order(conn, book, order_id, lock=True)


async def expire_if_due(conn: AsyncConnection, book: Book, order_id: str, now: datetime) -> bool:
    """Release an open order's hold whose time is up (status ``expired``); True if it did."""
    row = await _lock_for(conn, book, order_id)
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
    row = await _lock_for(conn, book, order_id)
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
        for r in await _lines(conn, row.id)
    ]
    await _earn(
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


async def _earn(
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
    row = await _lock_for(conn, book, order_id)
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


async def _live(conn: AsyncConnection, book: Book, ref: str) -> tuple[list[int], list[int], int]:
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
        select(func.count()).where(tx.c.program_id == book.program_id, tx.c.reference == ref)
    )
    return payments, accruals, int(count or 0)


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
    row = await _lock_for(conn, book, order_id)
    if row.status != "committed":
        raise OrderNotOpen(
            f"order {order_id!r} is {row.status}: only a committed order is refunded"
        )
    stored = await _lines(conn, row.id)
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
    payments, accruals, seq = await _live(conn, book, ref)
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
    await _earn(
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


async def order_view(conn: AsyncConnection, book: Book, order_id: str) -> OrderView:
    row = await _order(conn, book, order_id, lock=False)
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
        for r in await _lines(conn, row.id)
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
