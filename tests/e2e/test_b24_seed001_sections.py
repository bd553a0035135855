"""Seed 001, "only goods from the needed categories" (issue 15 item 4): a product in a
subsection of an eligible catalog section earns as that section does; the section tree is read
once and cached, and a subsection or a product moving is seen by later deals while a deal won
before keeps the sections it was counted with.

examples/car-service.yaml names sections 12 «Ремонт», 13 «Тюнинг» (eligible) and 14
«Расходники» (not); the subsections below are the portal's own, unknown to the program.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from b24emu.catalog import add_product, add_section
from tests.b24harness import kopilka_on_emulator
from tests.portals import car_service_portal, new_deal

pytestmark = pytest.mark.timeout(240)

REPAIR, CONSUMABLES = 12, 14


async def test_subsections_of_an_eligible_section_earn(committed_engine: AsyncEngine) -> None:
    portal, _ = car_service_portal()
    brakes = add_section(portal, "Тормоза", REPAIR)
    discs = add_section(portal, "Диски", brakes)  # two levels below «Ремонт»
    filters = add_section(portal, "Фильтры", CONSUMABLES)
    disc = add_product(portal, {"NAME": "Тормозной диск", "PRICE": 10000, "SECTION_ID": discs})
    oil_filter = add_product(portal, {"NAME": "Фильтр", "PRICE": 2000, "SECTION_ID": filters})
    async with kopilka_on_emulator(
        committed_engine, program="car-service.yaml", portal=portal
    ) as h:
        ivan = h.add_contact("Иван")
        # 3 % (Silver) of the disc's 10 000; the filter (under «Расходники») earns nothing
        d1 = new_deal(h, [ivan], rows=((disc, 10000), (oil_filter, 2000)))
        h.move(d1, "WON")
        await h.settle()
        assert (await h.balance(ivan)).available == 300_00
        assert any("+300" in c and "10 000" in c for c in h.comments(d1))

        # read once: a second deal in the same subsections costs no new section read
        reads = portal.stats.requests_by_method.get("crm.productsection.list", 0)
        assert reads >= 1
        d2 = new_deal(h, [ivan], rows=((disc, 10000),))
        h.move(d2, "WON")
        await h.settle()
        assert (await h.balance(ivan)).available == 600_00
        assert portal.stats.requests_by_method.get("crm.productsection.list", 0) == reads

        # «Тормоза» moves under «Расходники» (with «Диски»): later discs earn nothing ...
        h.call("crm.productsection.update", {"id": brakes, "fields": {"SECTION_ID": CONSUMABLES}})
        await h.settle()
        d3 = new_deal(h, [ivan], rows=((disc, 10000),))
        h.move(d3, "WON")
        await h.settle()
        assert (await h.balance(ivan)).available == 600_00
        # ... while the deals won before keep their points when synced again
        h.call("crm.deal.update", {"id": d1, "fields": {"TITLE": "Диски, замена"}})
        await h.settle()
        assert (await h.balance(ivan)).available == 600_00

        # the product itself moves into a subsection of «Тюнинг»: seen by the next deal (Gold now)
        tuning_parts = h.call(
            "crm.productsection.add", {"fields": {"NAME": "Обвесы", "SECTION_ID": 13}}
        )
        h.call("crm.product.update", {"id": disc, "fields": {"SECTION_ID": tuning_parts}})
        d4 = new_deal(h, [ivan], rows=((disc, 10000),))
        h.move(d4, "WON")
        await h.settle()
        assert (await h.balance(ivan)).available == 1_100_00  # + 5 % of 10 000

        async with committed_engine.connect() as conn:
            won = await conn.scalar(
                text("SELECT won_sections FROM b24_deals WHERE deal_id = :d"), {"d": d1}
            )
        assert won == {str(disc): REPAIR, str(oil_filter): CONSUMABLES}
