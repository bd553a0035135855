"""Scenario S1 end to end: a manager works in the (emulated) portal, Bitrix24 posts its events to
Kopilka over HTTP, the worker syncs, and the points appear in the contact's fields and the
deal's timeline."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.db.tables import b24_dirty_deals
from tests.b24harness import READINGS, Harness, kopilka_on_emulator

pytestmark = pytest.mark.timeout(180)

BALANCE = "UF_CRM_KOP_BALANCE"
PAY = "UF_CRM_KOP_PAY_POINTS"


def add_deal(
    h: Harness,
    contact: int,
    amount: str,
    *,
    category: int = 0,
    company: int | None = None,
    pay: str | None = None,
) -> int:
    fields: dict[str, Any] = {"COMPANY_ID": company} if company else {}
    if pay:
        fields[PAY] = pay
    return h.add_deal(contact, amount, category=category, fields=fields)


def points(h: Harness, contact: int) -> str:
    return str(h.contact(contact).get(BALANCE))


async def test_s1_retail_and_wholesale_through_the_portal(committed_engine: AsyncEngine) -> None:
    async with kopilka_on_emulator(committed_engine) as h:
        retail = h.add_contact("Анна", "CLIENT")
        wholesale = h.add_contact("Олег", "1")
        company = int(h.call("crm.company.add", {"fields": {"TITLE": "ООО Ромашка"}}))

        # A retail contact wins a 10 000 ₽ deal → +500.
        d1 = add_deal(h, retail, "10000")
        h.move(d1, "WON")
        await h.settle()
        assert (await h.balance(retail)).available == 500_00
        assert points(h, retail) == "500"
        assert any("+500 бонусов: 5 %" in c and "10 000" in c for c in h.comments(d1))

        # A wholesale contact with a company wins 100 000 ₽ in «Опт» → +8 000.
        d2 = add_deal(h, wholesale, "100000", category=1, company=company)
        h.move(d2, "C1:WON")
        await h.settle()
        assert (await h.balance(wholesale)).available == 8_000_00
        assert points(h, wholesale) == "8000"
        assert any("+8 000 бонусов: 8 %" in c for c in h.comments(d2))


@READINGS
async def test_s1_paying_with_points_capped_reversed_and_released(
    committed_engine: AsyncEngine, reading: str
) -> None:
    async with kopilka_on_emulator(committed_engine, strict_rows=reading == "strict") as h:
        buyer = h.add_contact("Мария", "CLIENT")
        first = add_deal(h, buyer, "100000")
        h.move(first, "WON")
        await h.settle()
        assert (await h.balance(buyer)).available == 5_000_00  # 5 % of 100 000

        # She asks to pay 5 000 with points on a 10 000 ₽ order: capped to 40 % = 4 000.
        deal = add_deal(h, buyer, "10000", pay="5000")
        await h.settle()
        state = await h.balance(buyer)
        assert (state.available, state.held) == (1_000_00, 4_000_00)
        rows = h.call("crm.deal.productrows.get", {"id": deal})
        assert float(rows[0]["PRICE"]) == 6000.0
        assert float(rows[0]["DISCOUNT_SUM"]) == 4000.0
        assert float(h.call("crm.deal.get", {"id": deal})["OPPORTUNITY"]) == 6000.0

        # Won: the hold is captured (1 000 left) and 5 % of the 6 000 paid is earned (+300).
        h.move(deal, "WON")
        await h.settle()
        state = await h.balance(buyer)
        assert (state.available, state.held) == (1_300_00, 0)
        assert points(h, buyer) == "1300"

        # Back to in progress: the accrual is reversed and the payment held again.
        h.move(deal, "PREPARATION")
        await h.settle()
        state = await h.balance(buyer)
        assert (state.available, state.held) == (1_000_00, 4_000_00)

        # Won again: earned once, not twice.
        h.move(deal, "WON")
        await h.settle()
        assert (await h.balance(buyer)).available == 1_300_00
        assert points(h, buyer) == "1300"

        # A lost deal releases its hold.
        lost = add_deal(h, buyer, "1000", pay="400")
        await h.settle()
        assert (await h.balance(buyer)).held == 400_00
        h.move(lost, "LOSE")
        await h.settle()
        state = await h.balance(buyer)
        assert (state.available, state.held) == (1_300_00, 0)
        assert points(h, buyer) == "1300"

        # Kopilka's own writes (product rows, contact fields) fire events too: they end quietly.
        writes = ("batch", "crm.deal.productrows.set", "crm.contact.update")

        def counts() -> list[int]:
            return [h.portal.stats.requests_by_method.get(m, 0) for m in writes]

        before = counts()
        await asyncio.sleep(1.5)
        await h.settle()
        assert counts() == before


async def test_unwinning_a_deal_whose_points_were_spent_is_refused_alone(
    committed_engine: AsyncEngine,
) -> None:
    async with kopilka_on_emulator(committed_engine) as h:
        anna = h.add_contact("Анна", "CLIENT")
        boris = h.add_contact("Борис", "CLIENT")
        earned = add_deal(h, anna, "10000")  # +500
        h.move(earned, "WON")
        await h.settle()
        spent = add_deal(h, anna, "2000", pay="500")  # 40 % of 2 000 = 800 ≥ 500: all spent
        h.move(spent, "WON")
        await h.settle()
        assert (await h.balance(anna)).available == 75_00  # 5 % of the 1 500 paid
        # The first deal leaves "won", and in the same round Борис wins one.
        h.move(earned, "PREPARATION")
        other = add_deal(h, boris, "10000")
        h.move(other, "WON")
        await h.settle()
        # Борис is settled; Анна's reversal (500 of her 75) is refused and nothing of it written.
        assert (await h.balance(boris)).available == 500_00
        assert (await h.balance(anna)).available == 75_00
        async with h.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(b24_dirty_deals.c.attempts, b24_dirty_deals.c.last_error).where(
                        b24_dirty_deals.c.deal_id == earned
                    )
                )
            ).one()
        assert row.attempts >= 1
        assert "already spent" in (row.last_error or "")
