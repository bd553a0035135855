"""Seed 001's "percentage by the number of won deals and the client's status (gold/silver)"
(issue 15, item 9), end to end on the emulated portal with examples/car-service-status.yaml:
deals won in the portal, the sync run, the points checked — the rate grows with the client's won
deals and follows the «Статус клиента» list field a manager sets on the contact.

The portal is built as the example's header describes it: the list field's items are 61
«Золотой» and 62 «Серебряный».
"""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.process.devstack import Stack, emulated_portal
from tests.b24harness import kopilka_on_emulator

pytestmark = pytest.mark.timeout(240)

STATUS = "UF_CRM_CLIENT_STATUS"
GOLD, SILVER = 61, 62


def client(h: Stack, name: str, status: int | None) -> int:
    fields = {"NAME": name, "TYPE_ID": "CLIENT", **({STATUS: status} if status else {})}
    return int(h.call("crm.contact.add", {"fields": fields}))


async def win(h: Stack, contact: int, amount: str = "10000") -> int:
    deal = h.add_deal(contact, amount)
    h.move(deal, "WON")
    await h.settle()
    return deal


async def points(h: Stack, contact: int) -> int:
    return (await h.balance(contact)).available // 100


async def test_seed001_rate_by_won_deals_and_client_status(committed_engine: AsyncEngine) -> None:
    portal = emulated_portal("empty")
    portal.seq["uf_enum"] = GOLD
    async with kopilka_on_emulator(
        committed_engine, program="car-service-status.yaml", portal=portal
    ) as h:
        h.call(
            "crm.contact.userfield.add",
            {
                "fields": {
                    "FIELD_NAME": "CLIENT_STATUS",
                    "USER_TYPE_ID": "enumeration",
                    "EDIT_FORM_LABEL": {"ru": "Статус клиента"},
                    "LIST": [{"VALUE": "Золотой"}, {"VALUE": "Серебряный"}],
                }
            },
        )
        (field,) = h.call("crm.contact.userfield.list", {"filter": {"FIELD_NAME": STATUS}})
        assert {i["VALUE"]: int(i["ID"]) for i in field["LIST"]} == {
            "Золотой": GOLD,
            "Серебряный": SILVER,
        }  # the ids the example names
        anna, boris = client(h, "Анна", GOLD), client(h, "Борис", SILVER)
        vera = client(h, "Вера", None)

        # 1st won deal of 10 000 ₽ each: 3 % by deals, plus 3 % gold / 1 % silver / nothing.
        for contact in (anna, boris, vera):
            await win(h, contact)
        assert [await points(h, c) for c in (anna, boris, vera)] == [600, 400, 300]

        # The rate grows with won deals: Вера's 2nd deal is still 3 %, her 3rd is 5 %.
        await win(h, vera)
        assert await points(h, vera) == 300 + 300
        await win(h, vera)
        assert await points(h, vera) == 300 + 300 + 500
        assert h.contact(vera)["UF_CRM_KOP_WON_DEALS"] == "3"
        assert h.contact(vera)["UF_CRM_KOP_LEVEL"] == "Постоянный клиент"

        # The rate follows the status: the manager makes Борис gold; his 2nd deal earns 3 % + 3 %.
        h.call("crm.contact.update", {"id": boris, "fields": {STATUS: GOLD}})
        await h.settle()
        await win(h, boris)
        assert await points(h, boris) == 400 + 600
        # … and the status taken away: Анна's 2nd deal earns 3 % by deals only.
        h.call("crm.contact.update", {"id": anna, "fields": {STATUS: ""}})
        await h.settle()
        await win(h, anna)
        assert await points(h, anna) == 600 + 300
        # Both at once: Анна gold again, her 3rd deal is 5 % by deals + 3 % gold on 20 000 ₽.
        h.call("crm.contact.update", {"id": anna, "fields": {STATUS: GOLD}})
        await h.settle()
        await win(h, anna, "20000")
        assert await points(h, anna) == 600 + 300 + 1600
        # Points once earned never move: the status changes left the earlier deals as they were.
        assert await points(h, boris) == 1000
