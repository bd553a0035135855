"""Scenario S2 end to end (car service, examples/car-service.yaml): levels by the number of won
deals, only the «Ремонт» and «Тюнинг» sections earn, and the contact shows balance, percent,
won deals and level while its other fields stay as the manager left them.

The portal is built the way the program file describes it: catalog sections 12, 13 and 14.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.b24harness import READINGS, Harness, kopilka_on_emulator
from tests.portals import car_service_portal, new_deal

pytestmark = pytest.mark.timeout(240)

BALANCE, PERCENT, WON, LEVEL = (
    "UF_CRM_KOP_BALANCE",
    "UF_CRM_KOP_PERCENT",
    "UF_CRM_KOP_WON_DEALS",
    "UF_CRM_KOP_LEVEL",
)


def shown(h: Harness, contact: int) -> dict[str, Any]:
    record = h.contact(contact)
    return {k: record.get(k) for k in (BALANCE, PERCENT, WON, LEVEL, "UF_CRM_CAR")}


def contact_comments(h: Harness, contact: int) -> list[str]:
    items = h.call(
        "crm.timeline.comment.list",
        {"filter": {"ENTITY_ID": contact, "ENTITY_TYPE": "contact"}, "order": {"ID": "ASC"}},
    )
    return [str(c["COMMENT"]).replace("\u00a0", " ") for c in items]


@READINGS
async def test_s2_levels_by_won_deals_and_eligible_sections(
    committed_engine: AsyncEngine, reading: str
) -> None:
    portal, p = car_service_portal()
    async with kopilka_on_emulator(
        committed_engine,
        program="car-service.yaml",
        portal=portal,
        strict_rows=reading == "strict",
    ) as h:
        h.call(
            "crm.contact.userfield.add", {"fields": {"FIELD_NAME": "CAR", "USER_TYPE_ID": "string"}}
        )
        ivan = int(
            h.call("crm.contact.add", {"fields": {"NAME": "Иван", "UF_CRM_CAR": "Лада Веста"}})
        )

        # 1st won deal: repair 10 000 earns, oil 2 000 does not; level Silver, 3 % → +300
        d1 = new_deal(
            h,
            [ivan],
            rows=(
                (p["brakes"], 10000),
                (p["oil"], 2000),
            ),
        )
        h.move(d1, "WON")
        await h.settle()
        assert (await h.balance(ivan)).available == 300_00
        assert shown(h, ivan) == {
            BALANCE: "300",
            PERCENT: "3",
            WON: "1",
            LEVEL: "Серебряный",
            "UF_CRM_CAR": "Лада Веста",
        }
        assert any("+300" in c and "3 %" in c for c in h.comments(d1))
        assert any("повышен до «Серебряный»" in c for c in contact_comments(h, ivan))

        # 2nd at Silver: tuning 20 000 → +600
        d2 = new_deal(h, [ivan], rows=((p["chip"], 20000),))
        h.move(d2, "WON")
        await h.settle()
        assert (await h.balance(ivan)).available == 900_00

        # 3rd crosses into Gold (from 3 deals, 5 %, the current deal counts): 10 000 → +500
        d3 = new_deal(h, [ivan], rows=((p["brakes"], 10000),))
        h.move(d3, "WON")
        await h.settle()
        assert (await h.balance(ivan)).available == 1_400_00
        assert shown(h, ivan)[LEVEL] == "Золотой"
        assert shown(h, ivan)[PERCENT] == "5"
        assert shown(h, ivan)[WON] == "3"
        assert shown(h, ivan)["UF_CRM_CAR"] == "Лада Веста"
        assert sum("повышен до «Золотой»" in c for c in contact_comments(h, ivan)) == 1

        # ... and back down when that deal is reopened: its points are reversed, Silver again
        h.move(d3, "PREPARATION")
        await h.settle()
        assert (await h.balance(ivan)).available == 900_00
        assert shown(h, ivan)[LEVEL] == "Серебряный"
        assert shown(h, ivan)[WON] == "2"
        assert sum("понижен до «Серебряный»" in c for c in contact_comments(h, ivan)) == 1

        # won again: earned once, at Gold again
        h.move(d3, "WON")
        await h.settle()
        assert (await h.balance(ivan)).available == 1_400_00
        assert sum("повышен до «Золотой»" in c for c in contact_comments(h, ivan)) == 2


async def test_s2_a_product_moved_out_of_the_eligible_sections(
    committed_engine: AsyncEngine,
) -> None:
    portal, p = car_service_portal()
    async with kopilka_on_emulator(
        committed_engine, program="car-service.yaml", portal=portal
    ) as h:
        olga = h.add_contact("Ольга")
        d1 = new_deal(h, [olga], rows=((p["spoiler"], 5000),))
        h.move(d1, "WON")
        await h.settle()
        assert (await h.balance(olga)).available == 150_00  # 3 % of 5 000 (tuning)

        # the spoiler becomes a consumable: later deals with it earn nothing ...
        h.call("crm.product.update", {"id": p["spoiler"], "fields": {"SECTION_ID": 14}})
        d2 = new_deal(h, [olga], rows=((p["spoiler"], 5000),))
        h.move(d2, "WON")
        await h.settle()
        assert (await h.balance(olga)).available == 150_00
        # ... while the deal won before keeps its points, even when it is synced again
        h.call("crm.deal.update", {"id": d1, "fields": {"TITLE": "Спойлер, установка"}})
        await h.settle()
        assert (await h.balance(olga)).available == 150_00
        assert h.contact(olga)[WON] == "2"
