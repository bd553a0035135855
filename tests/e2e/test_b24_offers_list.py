"""Issue 15, item 7 (seed 004's per-contact offers list): points a contact pays through the list
lower the accrual base as the deal's own field does; a manager's edit of an element is found by
the targeted poll of open deals' elements (lists raise no event), not only by the sweep; a
contact changed in the portal has its open deals judged again (ONCRMCONTACTUPDATE)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.bitrix24.offers_poll import poll_offers
from kopilka.db.tables import b24_dirty_deals
from kopilka.process.devstack import Stack, example, kopilka_on_emulator
from kopilka.program.loader import load_program
from tests.e2e.test_b24_s5 import apply_in_list, opportunity, text_of, won
from tests.portals import EVENTS, TRIPS, new_deal, travel_portal

pytestmark = pytest.mark.timeout(300)

FLAG = "UF_CRM_BIRTHDAY_WINDOW"  # birthday.flag_field of examples/travel-club.yaml


@asynccontextmanager
async def travel_with_percent(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Stack]:
    """The travel club, its events earning 10 % instead of a fixed cashback (so that what is
    paid with points shows in what is earned)."""
    _, source = example("travel-club.yaml")
    fixed = "    fixed: 1000\n    fixed_per: contact\n"
    assert fixed in source
    changed = source.replace(fixed, "    percent: 10\n")
    variant = tmp_path / "travel-percent.yaml"
    variant.write_text(changed, encoding="utf-8")
    portal, products = travel_portal()
    async with kopilka_on_emulator(engine, load_program(variant), changed, portal=portal) as h:
        h.products = products  # type: ignore[attr-defined]
        yield h


async def dirty(h: Stack) -> list[int]:
    async with h.engine.connect() as conn:
        found = await conn.scalars(
            select(b24_dirty_deals.c.deal_id).where(
                b24_dirty_deals.c.portal_id == h.connection.portal_id
            )
        )
        return sorted(found.all())


async def test_points_paid_in_the_list_earn_nothing_and_the_poll_sees_the_edit(
    committed_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with travel_with_percent(committed_engine, tmp_path) as h:
        concert = h.products["concert"]  # type: ignore[attr-defined]
        anna, boris = h.add_contact("Анна"), h.add_contact("Борис")
        first = new_deal(h, [anna], category=EVENTS, rows=((concert, 10000),))
        h.move(first, won(EVENTS))
        await h.settle()
        assert (await h.balance(anna)).available == 1_000_00  # 10 % of 10 000

        show = new_deal(h, [anna, boris], category=EVENTS, rows=((concert, 6000),))
        await h.settle()
        # the manager asks for 500 of Anna's points in her element: no event reaches Kopilka;
        # the poll finds the edit and hints the deal (the sweep is not run here)
        apply_in_list(h, show, anna, discounts={}, points=500)
        assert await poll_offers(h.services, h.connection) == 1
        await h.settle()
        assert opportunity(h, show) == 5500
        assert (await h.balance(anna)).held == 500_00
        # Kopilka's own rewrite of the element is no news to the poll
        assert await poll_offers(h.services, h.connection) == 0
        assert await dirty(h) == []

        # won: 10 % of what was paid in money — 5 500, split between the two: 275 each
        h.move(show, won(EVENTS))
        await h.settle()
        assert (await h.balance(anna)).available == 1_000_00 - 500_00 + 275_00
        assert (await h.balance(boris)).available == 275_00


async def test_a_contact_changed_in_the_portal_has_its_open_deals_judged_again(
    committed_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with travel_with_percent(committed_engine, tmp_path) as h:
        iceland = h.products["iceland"]  # type: ignore[attr-defined]
        anna, boris = h.add_contact("Анна"), h.add_contact("Борис")
        trip = new_deal(h, [anna, boris], category=TRIPS, rows=((iceland, 300000),))
        await h.settle()
        assert "Скидка в день рождения: нет скидки" in text_of(h, trip, boris, "offers")

        # Boris's birthday window opens (the contact's checkbox): the birthday discount applies
        # on his open deal at once, without waiting for the deal to change or for the sweep
        h.call("crm.contact.update", {"id": boris, "fields": {FLAG: "Y"}})
        await h.settle()
        offers = text_of(h, trip, boris, "offers")
        assert "Скидка в день рождения: 10 % — 15 000 ₽" in offers
