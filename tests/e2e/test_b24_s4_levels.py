"""Scenario S4's rule part end to end (aesthetic medicine, examples/aesthetic-medicine.yaml):
the status follows the customer's total purchases (the deal being won counts), the percent
follows the status, a welcome bonus on the first order, points pending for 14 days; the
contact shows balance, purchases, status and percent."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.process.devstack import emulated_portal
from tests.b24harness import READINGS, Harness, kopilka_on_emulator

pytestmark = pytest.mark.timeout(240)

PURCHASES, STATUS, PERCENT = "UF_CRM_KOP_PURCHASES", "UF_CRM_KOP_STATUS", "UF_CRM_KOP_PERCENT"


async def win(h: Harness, contact: int, amount: str) -> int:
    deal = h.add_deal(contact, amount)
    h.move(deal, "WON")
    await h.settle()
    return deal


@READINGS
async def test_s4_status_by_total_purchases(committed_engine: AsyncEngine, reading: str) -> None:
    async with kopilka_on_emulator(
        committed_engine,
        program="aesthetic-medicine.yaml",
        portal=emulated_portal("empty"),
        strict_rows=reading == "strict",
    ) as h:
        doctor = h.add_contact("Елена")

        # 40 000: below 50 000 → «Старт», 3 % → 1 200, plus 500 for a first order ≥ 10 000
        d1 = await win(h, doctor, "40000")
        balance = await h.balance(doctor)
        assert balance.pending == 1_700_00  # returns are possible for 14 days
        assert balance.available == 0
        card = h.contact(doctor)
        assert float(card[PURCHASES]) == 40000
        assert card[STATUS] == "Старт"
        assert card[PERCENT] == "3"
        comments = h.comments(d1)
        assert any("+1 200" in c and "3 %" in c for c in comments)
        assert any("+500" in c for c in comments)

        # 20 000 more: 60 000 in all → «Серебро», 5 % of this deal → 1 000; no second welcome
        await win(h, doctor, "20000")
        assert (await h.balance(doctor)).pending == 2_700_00
        card = h.contact(doctor)
        assert (card[STATUS], card[PERCENT], float(card[PURCHASES])) == ("Серебро", "5", 60000)

        # 90 000 more reaches exactly 150 000: still «Серебро» (gold is above 150 000)
        d3 = await win(h, doctor, "90000")
        assert (await h.balance(doctor)).pending == 7_200_00
        assert h.contact(doctor)[STATUS] == "Серебро"

        # one more rouble's worth of order crosses it: «Золото», 7 %
        await win(h, doctor, "1000")
        assert (await h.balance(doctor)).pending == 7_270_00
        card = h.contact(doctor)
        assert (card[STATUS], card[PERCENT], float(card[PURCHASES])) == ("Золото", "7", 151000)

        # the 90 000 deal is lost after all: the total drops below gold again
        h.move(d3, "LOSE")
        await h.settle()
        assert (await h.balance(doctor)).pending == 2_770_00
        card = h.contact(doctor)
        assert (card[STATUS], float(card[PURCHASES])) == ("Серебро", 61000)
