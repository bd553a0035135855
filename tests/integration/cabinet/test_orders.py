"""A customer's till order in the cabinet: its items, total, the points paid (held, then
captured) and earned for it, read from the ledger by the order's reference; another
customer's order is not theirs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.api.portal import customer_by_id
from kopilka.cabinet.entries import holds_of, lines
from kopilka.cabinet.orders import Item, orders_of
from kopilka.db.tables import pos_order_lines, pos_orders
from kopilka.domain.words import local_date
from kopilka.ledger.accrual import accrue
from kopilka.ledger.book import ensure_customer, ensure_portal
from kopilka.ledger.queries import history
from kopilka.ledger.spending import capture_hold, place_hold
from kopilka.lifecycle.service import install_program
from kopilka.program.loader import load_program
from tests.factories import ref

EXAMPLE = Path(__file__).parents[3] / "examples" / "retail-wholesale.yaml"


async def test_a_till_order_with_its_items_and_points(db: AsyncConnection) -> None:
    now = datetime.now(UTC)
    portal_id = await ensure_portal(db, ref("portal"))
    book = await install_program(
        db, portal_id, load_program(EXAMPLE), EXAMPLE.read_text(encoding="utf-8")
    )
    anna = await ensure_customer(db, portal_id, ref("c"), name="Анна", phone="+79160000001")
    other = await ensure_customer(db, portal_id, ref("c"), name="Олег", phone="+79160000002")
    await accrue(
        db, book, customer_id=anna, amount=500_00, key=ref("k"), reason="старт", actor="t", now=now
    )
    hold = await place_hold(
        db,
        book,
        customer_id=anna,
        amount=120_00,
        key=ref("h"),
        reason="оплата",
        actor="pos",
        now=now,
        expires_at=now + timedelta(hours=1),
        reference="pos:A-17",
    )
    await capture_hold(db, book, hold_id=hold.id, key=ref("c"), actor="pos", now=now)
    await accrue(
        db,
        book,
        customer_id=anna,
        amount=33_00,
        key=ref("k"),
        reason="за чек",
        actor="pos",
        now=now,
        reference="pos:A-17",
    )
    for customer, order in ((anna, "A-17"), (other, "B-1")):
        pk = await db.scalar(
            insert(pos_orders)
            .values(
                portal_id=portal_id,
                program_id=book.program_id,
                order_id=order,
                customer_id=customer,
                status="committed",
                pipeline_id=0,
                total=3_300_00,
                points_paid=120_00,
                created_at=now,
                committed_at=now,
            )
            .returning(pos_orders.c.id)
        )
        await db.execute(
            insert(pos_order_lines),
            [
                {
                    "order_pk": pk,
                    "line_id": "1",
                    "position": 1,
                    "name": "Чайник",
                    "price": 2_500_00,
                    "quantity": 1,
                },
                {
                    "order_pk": pk,
                    "line_id": "2",
                    "position": 2,
                    "name": "Кружка",
                    "price": 400_00,
                    "quantity": 2,
                },
            ],
        )

    found = await orders_of(db, portal_id, book, await customer_by_id(db, portal_id, anna))

    assert [o.reference for o in found] == ["pos:A-17"]  # Олег's order is not Анна's
    order = found[0]
    assert order.items == [
        Item("Чайник", 1, 2_500_00, 2_500_00),
        Item("Кружка", 2, 400_00, 800_00),
    ]
    assert (order.amount, order.paid, order.earned) == (3_300_00, 120_00, 33_00)

    # The history: the hold carries no reference, its row in holds does; captured, it was the
    # payment for the order.
    raw = await history(db, book, anna)
    day = local_date(order.at, "Europe/Moscow")
    worded = lines(raw, "ru", load_program(EXAMPLE), {"pos:A-17": day}, await holds_of(db, raw))
    assert [(w.text, w.amount) for w in worded] == [
        (f"Начислено за заказ от {day}", 33_00),
        (f"Оплата заказа от {day}", -120_00),
        ("Начислено", 500_00),
    ]
