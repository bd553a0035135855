"""A campaign on the marketing calendar, end to end on the emulated portal: a deal won inside
the window earns ×2 and the timeline says so, one won outside does not, the budget stops it,
and the what-if replay shows what it costs."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.cli.whatif import whatif_report
from kopilka.process.devstack import example, kopilka_on_emulator
from kopilka.program import parse_program

pytestmark = pytest.mark.timeout(240)

MSK = ZoneInfo("Europe/Moscow")


def campaign(today: date, budget: str) -> str:
    return (
        "campaigns:\n"
        "  - id: black-friday\n"
        "    title: Чёрная пятница\n"
        f"    from: {today - timedelta(days=2)}\n"
        f"    to: {today + timedelta(days=2)}\n"
        "    segments: [retail]\n"
        "    multiplier: 2\n"
        f"{budget}"
    )


async def test_campaign_doubles_inside_its_window_until_its_budget_is_spent(
    committed_engine: AsyncEngine,
) -> None:
    today = datetime.now(MSK).date()
    _, base = example("retail-wholesale.yaml")
    source = base + campaign(today, "    budget: 700\n")
    program = parse_program(source, "campaign.yaml")
    async with kopilka_on_emulator(committed_engine, program, source) as h:
        anna, boris, vera = (h.add_contact(n, "CLIENT") for n in ("Анна", "Борис", "Вера"))

        # Won today, inside the window: 5 % of 10 000 = 500, and ×2 adds 500 more.
        inside = h.add_deal(anna, "10000")
        h.move(inside, "WON")
        await h.settle()
        assert (await h.balance(anna)).available == 1_000_00
        assert any("+500 бонусов: ×2 по акции «Чёрная пятница»" in c for c in h.comments(inside))

        # Won with a close date ten days ago (the manager set it): outside, 500 only.
        outside = h.add_deal(boris, "10000")
        closed = f"{today - timedelta(days=10)}T12:00:00+03:00"
        h.call(
            "crm.deal.update", {"id": outside, "fields": {"STAGE_ID": "WON", "CLOSEDATE": closed}}
        )
        await h.settle()
        assert (await h.balance(boris)).available == 500_00
        assert not any("по акции" in c for c in h.comments(outside))

        # The budget of 700 has 200 left: the next deal gets what fits, the one after nothing.
        second = h.add_deal(vera, "10000")
        h.move(second, "WON")
        await h.settle()
        assert (await h.balance(vera)).available == 700_00
        assert any("+200 бонусов: ×2 по акции «Чёрная пятница»" in c for c in h.comments(second))
        third = h.add_deal(vera, "10000")
        h.move(third, "WON")
        await h.settle()
        assert (await h.balance(vera)).available == 1_200_00
        assert not any("по акции" in c for c in h.comments(third))

        # Syncing everything again changes nothing: the budget holds, nothing is re-priced.
        for deal in (inside, outside, second, third):
            h.call("crm.deal.update", {"id": deal, "fields": {"COMMENTS": "touched"}})
        await h.settle()
        balances = [(await h.balance(c)).available for c in (anna, boris, vera)]
        assert balances == [1_000_00, 500_00, 1_200_00]

        # The what-if replay shows the campaign's cost: 700 now; without the budget, 1 500.
        uncapped = parse_program(base + campaign(today, ""), "uncapped.yaml")
        async with h.engine.connect() as conn:
            same = await whatif_report(conn, h.connection.portal_id, program, None)
            more = await whatif_report(conn, h.connection.portal_id, uncapped, None)
        (cost,) = same.campaigns
        assert (cost.campaign, cost.deals, cost.would_cost, cost.cost_now) == (
            "black-friday",
            2,
            700_00,
            700_00,
        )
        assert cost.budget == 700_00
        (cost,) = more.campaigns
        assert (cost.deals, cost.would_cost, cost.cost_now, cost.budget) == (
            3,
            1_500_00,
            700_00,
            None,
        )
        assert more.would_earn - more.earned == 800_00
