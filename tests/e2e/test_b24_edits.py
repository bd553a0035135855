"""Edge cases of won deals through the emulator: edited after the win (amount, product rows,
contacts), deleted, a contact taken off — the points follow exactly once, however often the
deal is synced again."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.bitrix24.service import run_sync
from kopilka.bitrix24.sync import mark_dirty
from kopilka.db.engine import run_in_transaction
from tests.b24harness import Harness, kopilka_on_emulator
from tests.portals import EVENTS, travel_portal

pytestmark = pytest.mark.timeout(240)


async def kinds(h: Harness, deal: int) -> Counter[str]:
    async with h.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT kind::text FROM ledger_transactions WHERE reference = :r"),
            {"r": f"deal:{deal}"},
        )
        return Counter(r[0] for r in rows)


async def sync_again(h: Harness, deal: int) -> None:
    """As a duplicated or replayed event would: the deal is synced once more."""

    async def hint(conn: AsyncConnection) -> None:
        await mark_dirty(conn, h.connection.portal_id, [deal], "test")

    await run_in_transaction(h.engine, hint)
    await run_sync(h.services, h.connection.portal_id)
    await h.settle()


async def test_won_deal_edited_then_deleted(committed_engine: AsyncEngine) -> None:
    async with kopilka_on_emulator(committed_engine) as h:
        anna = h.add_contact("Анна")
        deal = h.add_deal(anna, "10000")
        h.move(deal, "WON")
        await h.settle()
        assert (await h.balance(anna)).available == 500_00

        # the manager changes the product rows of the won deal: 12 000 → 600, not 1 100
        h.call(
            "crm.deal.productrows.set",
            {"id": deal, "rows": [{"PRODUCT_NAME": "Товар", "PRICE": 12000, "QUANTITY": 1}]},
        )
        await h.settle()
        assert (await h.balance(anna)).available == 600_00
        assert await kinds(h, deal) == Counter(accrual=2, reversal=1)
        await sync_again(h, deal)
        await sync_again(h, deal)
        assert await kinds(h, deal) == Counter(accrual=2, reversal=1)
        assert h.contact(anna)["UF_CRM_KOP_BALANCE"] == "600"

        # the deal moves to another contact: Anna gives the points back, Boris earns them
        boris = h.add_contact("Борис")
        h.call("crm.deal.update", {"id": deal, "fields": {"CONTACT_ID": boris}})
        await h.settle()
        assert (await h.balance(anna)).available == 0
        assert (await h.balance(boris)).available == 600_00
        assert h.contact(anna)["UF_CRM_KOP_BALANCE"] == "0"
        assert h.contact(boris)["UF_CRM_KOP_BALANCE"] == "600"

        # deleted in the portal: nothing of it stands, once
        h.call("crm.deal.delete", {"id": deal})
        await h.settle()
        await sync_again(h, deal)
        assert (await h.balance(boris)).available == 0
        assert h.contact(boris)["UF_CRM_KOP_BALANCE"] == "0"
        assert await kinds(h, deal) == Counter(accrual=3, reversal=3)


async def test_contact_taken_off_a_won_deal(committed_engine: AsyncEngine) -> None:
    portal, _products = travel_portal()
    async with kopilka_on_emulator(
        committed_engine, program="travel-club.yaml", portal=portal
    ) as h:
        anna, boris = h.add_contact("Анна"), h.add_contact("Борис")
        deal = h.add_deal(anna, "6000", category=EVENTS)
        h.call("crm.deal.contact.add", {"id": deal, "fields": {"CONTACT_ID": boris}})
        h.move(deal, f"C{EVENTS}:WON")
        await h.settle()
        # 1 000 ₽ cashback per traveller of an event
        assert (await h.balance(anna)).available == 1_000_00
        assert (await h.balance(boris)).available == 1_000_00

        h.call("crm.deal.contact.delete", {"id": deal, "fields": {"CONTACT_ID": boris}})
        await h.settle()
        await sync_again(h, deal)
        assert (await h.balance(anna)).available == 1_000_00
        assert (await h.balance(boris)).available == 0
        assert h.contact(boris)["UF_CRM_KOP_CASHBACK"] == "0"
        assert h.contact(anna)["UF_CRM_KOP_CASHBACK"] == "1000"
        assert await kinds(h, deal) == Counter(accrual=2, reversal=1)
