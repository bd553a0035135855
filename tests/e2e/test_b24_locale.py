"""Issue 15 item 10: what Kopilka writes into Bitrix24 — the deal's and the contact's timeline
comments, the provisioned fields' titles — follows the program's locale. The car service of
S2 with ``locale: en``: every text Kopilka words is English; the program's own titles (levels)
are shown as the program writes them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.process.devstack import Stack, example, kopilka_on_emulator
from kopilka.program import parse_program
from tests.portals import car_service_portal, new_deal

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
