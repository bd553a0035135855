"""Issue 15 item 10: what Kopilka writes into Bitrix24 — the deal's and the contact's timeline
comments, the provisioned fields' titles — follows the program's locale. The car service of
S2 with ``locale: en``: every text Kopilka words is English; the program's own titles (levels)
are shown as the program writes them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.bitrix24.offers import IBLOCK_TYPE, LIST_CODE, element_code
from kopilka.bitrix24.service import run_sync
from kopilka.process.devstack import Stack, example, kopilka_on_emulator
from kopilka.program import parse_program
from tests.portals import EVENTS, car_service_portal, new_deal, travel_portal

pytestmark = pytest.mark.timeout(240)

PAY = "UF_CRM_KOP_PAY_POINTS"
NBSP = "\u00a0"


def plain(text: Any) -> str:
    return str(text).replace(NBSP, " ")


def timeline(h: Stack, entity: str, entity_id: int) -> list[str]:
    items = h.call(
        "crm.timeline.comment.list",
        {"filter": {"ENTITY_ID": entity_id, "ENTITY_TYPE": entity}, "order": {"ID": "ASC"}},
    )
    return [plain(c["COMMENT"]) for c in items]


def shown_title(h: Stack, entity: str, name: str) -> str:
    """The field's title as the portal shows it to a manager (its interface is Russian)."""
    assert h.portal.lang == "ru"
    return str(h.call(f"crm.{entity}.fields")[name]["formLabel"])


async def test_texts_in_the_portal_follow_locale_en(committed_engine: AsyncEngine) -> None:
    path, source = example("car-service.yaml")
    source = source.replace("timezone: Europe/Moscow\n", "timezone: Europe/Moscow\nlocale: en\n")
    program = parse_program(source, path.name)
    assert program.locale == "en"
    portal, p = car_service_portal()
    async with kopilka_on_emulator(committed_engine, program, source, portal=portal) as h:
        # the fields Kopilka provisioned are titled in English, whatever the manager's language
        assert shown_title(h, "contact", "UF_CRM_KOP_BALANCE") == "Bonus balance"
        assert shown_title(h, "contact", "UF_CRM_KOP_LEVEL") == "Loyalty level"
        assert shown_title(h, "deal", PAY) == "Points to pay"

        ivan = h.add_contact("Ivan")
        d1 = new_deal(h, [ivan], rows=((p["brakes"], 10000),))
        h.move(d1, "WON")
        await h.settle()
        assert (await h.balance(ivan)).available == 300_00
        (earned,) = timeline(h, "deal", d1)
        assert re.fullmatch(
            r"Kopilka: \+300 points: 3 % \(Серебряный\) of 10 000 ₽ · entry #\d+", earned
        )
        (level,) = timeline(h, "contact", ivan)
        assert re.fullmatch(r"Kopilka: level raised to «Серебряный» — 3 % · change #\d+", level)

        # paying with points: the hold while the deal is open, the payment at the win
        d2 = new_deal(h, [ivan], rows=((p["brakes"], 10000),))
        h.call("crm.deal.update", {"id": d2, "fields": {PAY: 100}})
        await h.settle()
        (held,) = timeline(h, "deal", d2)
        assert re.fullmatch(
            r"Kopilka: Reserved for payment 100 points — Pay 100 points of 100 asked · hold #\d+",
            held,
        )
        h.move(d2, "WON")
        await h.settle()
        said = timeline(h, "deal", d2)[1:]
        assert any(
            re.fullmatch(
                r"Kopilka: Paid with points 100 points — deal won: paid with points · entry #\d+",
                c,
            )
            for c in said
        ), said
        # ... and lost: the points come back, said in English too
        h.move(d2, "LOSE")
        await h.settle()
        said = timeline(h, "deal", d2)
        assert any(c.startswith("Kopilka: Cancelled ") and "entry #" in c for c in said), said
        # nothing Kopilka worded is Russian: only the level's own title is
        for text in [*timeline(h, "deal", d1), *said, *timeline(h, "contact", ivan)]:
            assert not re.search("[а-яё]", text.replace("Серебряный", ""), re.I), text


async def test_the_offers_list_follows_locale_en(committed_engine: AsyncEngine) -> None:
    """S5's per-contact offers list (travel club) with ``locale: en``: the list, its fields, the
    elements' names and texts, and the deal's comments on a payment made there."""
    path, source = example("travel-club.yaml")
    source = source.replace("timezone: Europe/Moscow\n", "timezone: Europe/Moscow\nlocale: en\n")
    portal, products = travel_portal()
    where = {"IBLOCK_TYPE_ID": IBLOCK_TYPE, "IBLOCK_CODE": LIST_CODE}
    async with kopilka_on_emulator(
        committed_engine, parse_program(source, path.name), source, portal=portal
    ) as h:
        (the_list,) = h.call("lists.get", where)
        assert the_list["NAME"] == "Deal discounts and bonuses"
        titles = {f["NAME"] for f in h.call("lists.field.get", where).values()}
        assert {"Deal", "Contact", "Pay with points", "Applied"} <= titles

        anna = h.add_contact("Anna")
        event = new_deal(h, [anna], category=EVENTS, rows=((products["concert"], 5000),))
        h.move(event, f"C{EVENTS}:WON")
        await h.settle()
        assert (await h.balance(anna)).available == 1_000_00  # the events' cashback

        show = new_deal(h, [anna], category=EVENTS, rows=((products["concert"], 6000),))
        await h.settle()

        def element() -> dict[str, Any]:
            (row,) = h.call(
                "lists.element.get", {**where, "ELEMENT_CODE": element_code(show, anna)}
            )
            return {
                k: (next(iter(v.values())) if isinstance(v, dict) else v) for k, v in row.items()
            }

        props = dict(h.connection.field_map["offers_list"]["fields"])
        shown = element()
        assert shown["NAME"] == f"Deal #{show}: Anna"
        assert "Points account: 1 000 points available" in plain(shown[props["offers"]])
        assert plain(shown[props["applied"]]) == "nothing applied"

        fields = {k: v for k, v in shown.items() if k.startswith("PROPERTY_")}
        fields |= {"NAME": shown["NAME"], props["points"]: 500}
        h.call(
            "lists.element.update",
            {**where, "ELEMENT_CODE": element_code(show, anna), "FIELDS": fields},
        )
        await run_sync(h.services, h.connection.portal_id, sweep=True)  # list edits raise no event
        await h.settle()
        assert plain(element()[props["applied"]]) == "Paid with points: 500 points"
        said = timeline(h, "deal", show)
        assert any(
            re.fullmatch(
                rf"Kopilka: Reserved for payment 500 points — paid with points, deal #{show}"
                r" · hold #\d+",
                c,
            )
            for c in said
        ), said
