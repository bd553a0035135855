"""The ledger's trigger writes a notification event in the posting's own transaction; cards are
one per customer and one per number, and the manager hears about what blocks a card."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.cards.service import issue_card
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import b24_outbox, cards, notification_events, notifications
from kopilka.ledger.accrual import accrue
from kopilka.ledger.book import ensure_book
from kopilka.ledger.spending import capture_hold, place_hold, redeem
from kopilka.program.loader import parse_program
from tests.integration.notify.conftest import Shop

PROGRAM = parse_program(
    """
program: clinic
title: Клиника
cards:
  required: [NAME, LAST_NAME, PHONE, UF_CRM_DOCTOR_CLASS]
fields:
  contact:
    card_number: UF_CRM_KOP_CARD
""",
    "clinic.yaml",
)


async def events(engine: AsyncEngine) -> list[tuple[str, int, int]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(
                notification_events.c.kind,
                notification_events.c.customer_id,
                notification_events.c.amount,
            ).order_by(notification_events.c.id)
        )
        return [tuple(r) for r in rows]


async def test_accrual_redemption_and_capture_leave_events_holds_do_not(shop: Shop) -> None:
    anna, boris = shop.customers[:2]
    now = shop.clock.now

    async def book(conn: AsyncConnection) -> Any:
        return await ensure_book(conn, shop.portal_id, code="p", title="P", timezone="UTC")

    b = await run_in_transaction(shop.engine, book)
    common = {"actor": "test", "now": now}
    await run_in_transaction(
        shop.engine,
        lambda conn: accrue(
            conn, b, customer_id=anna, amount=500_00, key="a1", reason="сделка", **common
        ),
    )
    await run_in_transaction(
        shop.engine,
        lambda conn: redeem(
            conn, b, customer_id=anna, amount=100_00, key="r1", reason="оплата", **common
        ),
    )
    hold = await run_in_transaction(
        shop.engine,
        lambda conn: place_hold(
            conn, b, customer_id=anna, amount=50_00, key="h1", reason="заказ",
            expires_at=now + timedelta(days=1), **common,
        ),
    )  # fmt: skip
    assert await events(shop.engine) == [("accrual", anna, 500_00), ("redemption", anna, 100_00)]
    await run_in_transaction(
        shop.engine, lambda conn: capture_hold(conn, b, hold_id=hold.id, key="c1", **common)
    )
    assert (await events(shop.engine))[-1] == ("redemption", anna, 50_00)

    # A transaction that rolls back leaves no event.
    async def fails(conn: AsyncConnection) -> None:
        await accrue(conn, b, customer_id=boris, amount=10_00, key="a2", reason="x", **common)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await run_in_transaction(shop.engine, fails)
    assert len(await events(shop.engine)) == 3


def contact(cid: int, phone: str | None, **more: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "ID": str(cid),
        "NAME": "Анна",
        "LAST_NAME": f"Клиентка{cid}",
        "ASSIGNED_BY_ID": "7",
        "UF_CRM_DOCTOR_CLASS": "44",
        **more,
    }
    if phone is not None:
        fields["PHONE"] = [{"ID": "1", "VALUE_TYPE": "MOBILE", "VALUE": phone}]
    return fields


async def chat(conn: AsyncConnection) -> list[tuple[str, str]]:
    rows = await conn.execute(
        select(notifications.c.key, notifications.c.body).where(
            notifications.c.channel == "b24_chat"
        )
    )
    return [(r.key, r.body) for r in rows]


async def test_card_rules(db: AsyncConnection, shop_portal: int) -> None:
    p = shop_portal
    issued = await issue_card(db, p, PROGRAM, contact(10, "8 (912) 345-67-89"), issued_by="auto")
    assert (issued.status, issued.number) == ("issued", "+79123456789")
    write = (await db.execute(select(b24_outbox.c.key, b24_outbox.c.params))).one()
    assert write.key == "contact:10:card"
    assert write.params == {"id": 10, "fields": {"UF_CRM_KOP_CARD": "+79123456789"}}
    # saved again: the same card
    again = await issue_card(db, p, PROGRAM, contact(10, "+79123456789"), issued_by="auto")
    assert (again.status, again.number) == ("exists", "+79123456789")

    # the same number on another contact: reported, no second card
    taken = await issue_card(db, p, PROGRAM, contact(11, "89123456789"), issued_by="auto")
    assert (taken.status, taken.other_contact) == ("taken", "10")
    # no phone: one notice, however often it is saved
    for _ in range(3):
        assert (await issue_card(db, p, PROGRAM, contact(12, None), issued_by="auto")).status == (
            "no_phone"
        )
    # not a phone number
    bad = await issue_card(db, p, PROGRAM, contact(13, "12-34"), issued_by="auto")
    assert bad.status == "bad_phone"
    # a required field missing: nothing yet, no notice; by hand only the phone counts
    partial = contact(14, "+79160001122", UF_CRM_DOCTOR_CLASS="")
    assert (await issue_card(db, p, PROGRAM, partial, issued_by="auto")).status == "incomplete"
    by_hand = await issue_card(db, p, PROGRAM, partial, issued_by="user:1", check_required=False)
    assert by_hand.status == "issued"

    notices = await chat(db)
    assert [k for k, _ in notices] == [
        "card:11:taken:+79123456789",
        "card:12:no-phone",
        "card:13:bad-phone:1234",
    ]
    assert "№10" in notices[0][1]
    assert "не указан телефон" in notices[1][1]
    numbers = (await db.execute(select(cards.c.number, cards.c.issued_by))).all()
    assert sorted(numbers) == [("+79123456789", "auto"), ("+79160001122", "user:1")]
