"""A manual bonus granted through the public API to a contact of a connected portal shows on
the contact like one granted on the command line: its fields and a timeline comment."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.api.keys import create_api_key
from kopilka.db.engine import run_in_transaction
from kopilka.ledger.book import get_customer_id
from tests.b24harness import kopilka_on_emulator
from tests.portals import EVENTS, new_deal, travel_portal

pytestmark = pytest.mark.timeout(180)


async def test_api_grant_reaches_the_contact_card(committed_engine: AsyncEngine) -> None:
    portal, products = travel_portal()
    async with kopilka_on_emulator(
        committed_engine, program="travel-club.yaml", portal=portal
    ) as h:
        anna = h.add_contact("Анна")
        event = new_deal(h, [anna], category=EVENTS, rows=((products["concert"], 5000),))
        h.move(event, f"C{EVENTS}:WON")
        await h.settle()
        assert h.contact(anna)["UF_CRM_KOP_CASHBACK"] == "1000"

        portal_id = h.connection.portal_id
        key = await run_in_transaction(
            h.engine, lambda conn: create_api_key(conn, portal_id, "crm", ["grants:write"])
        )
        async with h.engine.connect() as conn:
            customer = await get_customer_id(conn, portal_id, f"contact:{anna}")
        async with httpx.AsyncClient(base_url=h.web_url) as web:
            answer = await web.post(
                "/api/v1/grants",
                json={"customer": {"customer_id": customer}, "reason": "review", "actor": "Мария"},
                headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "review-1"},
            )
        assert answer.status_code == 201, answer.text
        await h.settle()
        assert (await h.balance(anna)).available == 1_500_00
        assert h.contact(anna)["UF_CRM_KOP_CASHBACK"] == "1500"
        notes = h.call(
            "crm.timeline.comment.list",
            {"filter": {"ENTITY_ID": anna, "ENTITY_TYPE": "contact"}},
        )
        assert any("Бонус за отзыв" in str(n["COMMENT"]) for n in notes)
