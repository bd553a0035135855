"""Scenario S3 end to end (travel club data, examples/travel-club.yaml): a product attached to a
deal fills the deal's fields; won deals fill each contact's yearly totals by pipeline, split
between the deal's contacts; past years are backfilled; edits and deletions keep them right."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.bitrix24.service import backfill
from tests.b24harness import READINGS, Harness, kopilka_on_emulator
from tests.portals import EVENTS, new_deal, travel_portal

pytestmark = pytest.mark.timeout(240)


def total(h: Harness, contact: int, code: str) -> float:
    value = h.contact(contact).get(code)
    return float(value or 0)


@READINGS
async def test_s3_product_to_deal_and_yearly_totals(
    committed_engine: AsyncEngine, reading: str
) -> None:
    portal, products = travel_portal()
    # history from before Kopilka: a trip won in 2024, no event ever reaches Kopilka for it
    old_traveller = int(portal.call("crm.contact.add", {"fields": {"NAME": "Пётр"}})["result"])
    old = int(
        portal.call(
            "crm.deal.add",
            {
                "fields": {
                    "TITLE": "Алтай 2024",
                    "STAGE_ID": "WON",
                    "CONTACT_ID": old_traveller,
                    "OPPORTUNITY": 120000,
                    "CLOSEDATE": "2024-08-01",
                }
            },
        )["result"]
    )
    async with kopilka_on_emulator(
        committed_engine,
        program="travel-club.yaml",
        portal=portal,
        strict_rows=reading == "strict",
    ) as h:
        anna = h.add_contact("Анна")
        boris = h.add_contact("Борис")
        deal = new_deal(h, [anna, boris])

        # attaching the product fills the deal
        h.call(
            "crm.deal.productrows.set",
            {"id": deal, "rows": [{"PRODUCT_ID": products["iceland"], "PRICE": 300000}]},
        )
        await h.settle()
        shown = h.call("crm.deal.get", {"id": deal})
        assert shown["TITLE"] == "Исландия 2026"
        assert str(shown["UF_CRM_TRIP_DATES"]).startswith("2026-03-12")
        assert shown["UF_CRM_ARTICLE"] == "ISL-2026"
        assert shown["UF_CRM_HOTEL"] == "Hotel Rangá"
        assert shown["UF_CRM_HEADLINER"] == "Михаил Кожухов"

        # won: 300 000 split between the two travellers, in «Путешествия 2026»
        h.move(deal, "WON")
        await h.settle()
        assert total(h, anna, "UF_CRM_TRAVEL_2026") == 150000
        assert total(h, boris, "UF_CRM_TRAVEL_2026") == 150000
        assert total(h, anna, "UF_CRM_EVENTS_2026") == 0
        assert total(h, anna, "UF_CRM_TRAVEL_2025") == 0

        # an event the same year goes to the other total, and earns the fixed cashback
        event = new_deal(h, [anna], category=EVENTS)
        h.call(
            "crm.deal.productrows.set",
            {"id": event, "rows": [{"PRODUCT_ID": products["concert"], "PRICE": 5000}]},
        )
        h.move(event, f"C{EVENTS}:WON")
        await h.settle()
        assert total(h, anna, "UF_CRM_EVENTS_2026") == 5000
        assert (await h.balance(anna)).available == 1_000_00

        # the backfill reads the portal's history: the 2024 trip lands in 2024
        await backfill(h.services, h.connection)
        await h.settle()
        assert total(h, old_traveller, "UF_CRM_TRAVEL_2024") == 120000
        assert total(h, old_traveller, "UF_CRM_TRAVEL_2026") == 0
        assert old > 0

        # a won deal edited: the totals follow, exactly once
        h.call(
            "crm.deal.productrows.set",
            {"id": deal, "rows": [{"PRODUCT_ID": products["iceland"], "PRICE": 200000}]},
        )
        await h.settle()
        assert total(h, anna, "UF_CRM_TRAVEL_2026") == 100000
        assert total(h, boris, "UF_CRM_TRAVEL_2026") == 100000

        # a contact taken off the deal: the whole sum is the remaining traveller's
        h.call("crm.deal.contact.delete", {"id": deal, "fields": {"CONTACT_ID": boris}})
        await h.settle()
        assert total(h, anna, "UF_CRM_TRAVEL_2026") == 200000
        assert total(h, boris, "UF_CRM_TRAVEL_2026") == 0

        # deleted: nothing of it stands
        h.call("crm.deal.delete", {"id": deal})
        await h.settle()
        assert total(h, anna, "UF_CRM_TRAVEL_2026") == 0
        assert total(h, anna, "UF_CRM_EVENTS_2026") == 5000
