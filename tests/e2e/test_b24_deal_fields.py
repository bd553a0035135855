"""Issue 15, item 6 (seed 003: "before the write-off the balance is checked; the manager is asked
how many to write off"): the deal shows the payer's balance, the most it may pay with points,
what it pays (beside the amount asked, when capped) and what it earned — kept current as the deal
changes, written only where the deal shows otherwise."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.b24harness import Harness, kopilka_on_emulator

pytestmark = pytest.mark.timeout(180)

PAY = "UF_CRM_KOP_PAY_POINTS"
FIELDS = ("UF_CRM_KOP_DEAL_BALANCE", "UF_CRM_KOP_MAX_PAY", "UF_CRM_KOP_PAID", "UF_CRM_KOP_EARNED")


def shown(h: Harness, deal: int) -> tuple[float, ...]:
    """(balance, max payable, paid, earned) as the deal shows them; an empty field shows 0 (a
    new deal with nothing to show is not written to)."""
    got = h.call("crm.deal.get", {"id": deal})
    return tuple(0.0 if got.get(f) in (None, "") else float(got[f]) for f in FIELDS)


async def test_the_deal_shows_balance_cap_paid_and_earned(committed_engine: AsyncEngine) -> None:
    async with kopilka_on_emulator(committed_engine) as h:
        buyer = h.add_contact("Мария", "CLIENT")
        first = h.add_deal(buyer, "100000")
        await h.settle()
        # open, nothing asked: 0 points, so 0 payable
        assert shown(h, first) == (0, 0, 0, 0)
        h.move(first, "WON")
        await h.settle()
        balance, _, paid, earned = shown(h, first)
        assert (balance, paid, earned) == (5000, 0, 5000)  # 5 % of 100 000

        # asked 5 000 on a 10 000 ₽ order: 40 % caps it at 4 000, held; 1 000 left
        deal = h.add_deal(buyer, "10000", fields={PAY: "5000"})
        await h.settle()
        assert float(h.call("crm.deal.get", {"id": deal})[PAY]) == 5000  # the manager's ask
        assert shown(h, deal) == (1000, 4000, 4000, 0)

        # another order of 10 000: 40 % would be 4 000, the balance allows 1 000
        other = h.add_deal(buyer, "10000")
        await h.settle()
        assert shown(h, other) == (1000, 1000, 0, 0)

        # won: the 4 000 are taken, 5 % of the 6 000 paid in money is earned
        h.move(deal, "WON")
        await h.settle()
        balance, _, paid, earned = shown(h, deal)
        assert (balance, paid, earned) == (1300, 4000, 300)

        # the asked amount lowered on the open deal: applied as asked, the cap follows the order
        h.call("crm.deal.update", {"id": other, "fields": {PAY: "500"}})
        await h.settle()
        assert shown(h, other) == (800, 1300, 500, 0)

        # lost: nothing paid, nothing earned
        h.move(other, "LOSE")
        await h.settle()
        _, _, paid, earned = shown(h, other)
        assert (paid, earned) == (0, 0)

        # Kopilka's own deal writes come back as events and end quietly
        before = h.portal.stats.requests_by_method.get("batch", 0)
        await asyncio.sleep(1.5)
        await h.settle()
        assert h.portal.stats.requests_by_method.get("batch", 0) == before
