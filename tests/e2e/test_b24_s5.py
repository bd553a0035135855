"""Scenario S5's deal rules end to end (travel club, examples/travel-club.yaml): the
accumulative discount by trips bought, the fixed cashback of the events pipeline, and a deal with
two contacts whose discounts and cashback are listed per contact in a universal list — with
«не применяется» where the pipeline forbids them — applied there by the manager and put on the
deal's product rows. (Expiry on 1 January, the birthday checkbox and the manual bonuses are in
tests/e2e/test_b24_daily*.py and test_b24_grants.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.bitrix24.offers import IBLOCK_TYPE, LIST_CODE, Layout, element_code
from kopilka.bitrix24.service import run_sync
from tests.b24harness import READINGS, Harness, kopilka_on_emulator
from tests.portals import EVENTS, TRIPS, new_deal, travel_portal

pytestmark = pytest.mark.timeout(300)


def won(category: int) -> str:
    return "WON" if category == 0 else f"C{category}:WON"


def layout(h: Harness) -> Layout:
    found = Layout.from_json(h.connection.field_map.get("offers_list"))
    assert found is not None
    return found


def element(h: Harness, deal: int, contact: int) -> dict[str, Any]:
    rows = h.call(
        "lists.element.get",
        {
            "IBLOCK_TYPE_ID": IBLOCK_TYPE,
            "IBLOCK_CODE": LIST_CODE,
            "ELEMENT_CODE": element_code(deal, contact),
        },
    )
    assert len(rows) == 1, f"no list element for deal {deal}, contact {contact}"
    return {k: (next(iter(v.values())) if isinstance(v, dict) else v) for k, v in rows[0].items()}


def text_of(h: Harness, deal: int, contact: int, role: str) -> str:
    return str(element(h, deal, contact).get(layout(h).fields[role]) or "").replace("\u00a0", " ")


def apply_in_list(
    h: Harness, deal: int, contact: int, *, discounts: dict[str, int], points: int = 0
) -> None:
    """What the manager does in the element's form: fill the numbers and save (the form sends
    every field back; lists.element.update clears what is not sent)."""
    lay = layout(h)
    current = element(h, deal, contact)
    fields = {k: v for k, v in current.items() if k.startswith("PROPERTY_")}
    fields["NAME"] = current["NAME"]
    for discount_id, percent in discounts.items():
        fields[lay.discounts[discount_id]] = percent
    fields[lay.fields["points"]] = points
    h.call(
        "lists.element.update",
        {
            "IBLOCK_TYPE_ID": IBLOCK_TYPE,
            "IBLOCK_CODE": LIST_CODE,
            "ELEMENT_CODE": element_code(deal, contact),
            "FIELDS": fields,
        },
    )


async def sweep(h: Harness) -> None:
    """The periodic sweep: it finds the edited elements (they raise no deal event)."""
    await run_sync(h.services, h.connection.portal_id, sweep=True)
    await h.settle()


def opportunity(h: Harness, deal: int) -> float:
    return float(h.call("crm.deal.get", {"id": deal})["OPPORTUNITY"])


@READINGS
async def test_s5_per_contact_discounts_and_cashback(
    committed_engine: AsyncEngine, reading: str
) -> None:
    portal, products = travel_portal()
    async with kopilka_on_emulator(
        committed_engine,
        program="travel-club.yaml",
        portal=portal,
        strict_rows=reading == "strict",
    ) as h:
        anna, boris = h.add_contact("Анна"), h.add_contact("Борис")
        # Anna's history: two trips, and an event (1 000 ₽ cashback)
        for _ in range(2):
            trip = new_deal(h, [anna], category=TRIPS, rows=((products["iceland"], 100000),))
            h.move(trip, won(TRIPS))
        event = new_deal(h, [anna], category=EVENTS, rows=((products["concert"], 5000),))
        h.move(event, won(EVENTS))
        await h.settle()
        assert (await h.balance(anna)).available == 1_000_00
        assert h.contact(anna)["UF_CRM_KOP_WON_DEALS"] == "3"  # two trips and an event
        assert h.contact(anna)["UF_CRM_KOP_TRIP_DISCOUNT"] == "5"  # 2 trips: 5 %
        assert h.contact(boris)["UF_CRM_KOP_TRIP_DISCOUNT"] in (None, "", "0")

        # a trip for two: each traveller's offers are listed in the universal list
        deal = new_deal(h, [anna, boris], category=TRIPS, rows=((products["iceland"], 300000),))
        await h.settle()
        offers_anna = text_of(h, deal, anna, "offers")
        assert "Накопительная скидка за путешествия: 5 % — 7 500 ₽" in offers_anna
        assert "Бонусный счёт: не применяется" in offers_anna  # cashback: events and shows only
        offers_boris = text_of(h, deal, boris, "offers")
        assert "Накопительная скидка за путешествия: нет скидки" in offers_boris

        # the manager applies Anna's discount (and tries her cashback, which does not apply)
        apply_in_list(h, deal, anna, discounts={"trips": 5}, points=500)
        await sweep(h)
        assert opportunity(h, deal) == 292500  # 7 500 ₽ off the product rows
        applied = text_of(h, deal, anna, "applied")
        assert "Накопительная скидка за путешествия: 5 % — 7 500 ₽" in applied
        assert "Бонусный счёт: не применяется" in applied
        assert (await h.balance(anna)).held == 0
        # a percent above the one offered is capped at it
        apply_in_list(h, deal, anna, discounts={"trips": 9})
        await sweep(h)
        assert opportunity(h, deal) == 292500

        # an event for both: Anna pays 500 of her cashback there, it is held, then taken
        show = new_deal(h, [anna, boris], category=EVENTS, rows=((products["concert"], 6000),))
        await h.settle()
        assert "Бонусный счёт: доступно 1 000 бонусов" in text_of(h, show, anna, "offers")
        apply_in_list(h, show, anna, discounts={}, points=500)
        await sweep(h)
        assert opportunity(h, show) == 5500
        assert (await h.balance(anna)).held == 500_00
        assert "Оплата бонусами: 500 бонусов" in text_of(h, show, anna, "applied")
        h.move(show, won(EVENTS))
        await h.settle()
        anna_now = await h.balance(anna)
        assert anna_now.held == 0
        assert anna_now.available == 1_000_00 - 500_00 + 1_000_00  # paid 500, earned 1 000
        assert (await h.balance(boris)).available == 1_000_00
        assert opportunity(h, show) == 5500

        # the trip is lost: its rows keep their discount, nothing is held or taken
        h.move(deal, "LOSE")
        await h.settle()
        assert (await h.balance(anna)).available == 1_500_00
