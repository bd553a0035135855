"""The «Бонусы» tab on a deal (issue 17, item 4), over HTTP on the emulated portal: each contact
with its balance, offers and the most it may pay shown before typing; pay with points for one
contact and apply a discount for the other, through the same ledger paths as the deal field and
the offers list (held while open, taken on win, released on loss); what the tab chose shows in
the list's element too; a one-contact deal pays through the deal's own field."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.bitrix24.deal_ask import Asked, ask
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import b24_deal_choice_submits, holds
from kopilka.process.devstack import Stack, example, kopilka_on_emulator
from kopilka.program.loader import load_program
from tests.e2e.test_b24_frames import placement_form, query, with_points
from tests.e2e.test_b24_s5 import apply_in_list, element, layout, opportunity, sweep, won
from tests.portals import EVENTS, new_deal, travel_portal

pytestmark = pytest.mark.timeout(300)

MOSCOW = ZoneInfo("Europe/Moscow")  # the travel club's time zone
NBSP = "\u00a0"


@asynccontextmanager
async def travel_app(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Stack]:
    """The travel club installed as an app, its events earning 10 % (so that what is paid with
    points shows in what is earned)."""
    _, source = example("travel-club.yaml")
    fixed = "    fixed: 1000\n    fixed_per: contact\n"
    assert fixed in source
    changed = source.replace(fixed, "    percent: 10\n")
    variant = tmp_path / "travel-percent.yaml"
    variant.write_text(changed, encoding="utf-8")
    portal, products = travel_portal()
    async with kopilka_on_emulator(
        engine, load_program(variant), changed, portal=portal, app=True
    ) as h:
        h.products = products  # type: ignore[attr-defined]
        yield h


class Tab:
    """A manager's deal tab: opened by the portal's POST, then its own forms."""

    def __init__(self, h: Stack, web: httpx.AsyncClient, deal: int) -> None:
        self.h, self.web, self.deal = h, web, deal
        self.html = ""

    async def open(self, user: int = 2) -> str:
        page = await self.web.post(
            "/b24/app/deal",
            params=query(self.h),
            data=placement_form(self.h, user, "CRM_DEAL_DETAIL_TAB", self.deal),
        )
        assert page.status_code == 200, page.text
        self.html = page.text
        return self.html

    def sid(self) -> str:
        return self.html.split('name="kopilka-session" content="')[1].split('"')[0]

    def key(self, contact: int) -> str:
        found = re.search(rf'name="key" value="([^"]+-{contact})"', self.html)
        assert found, f"no form for contact {contact}"
        return found.group(1)

    def value(self, name: str) -> str:
        found = re.search(rf'id="{name}">([^<]*)<', self.html)
        assert found, f"no {name} on the page"
        return found.group(1).replace(NBSP, " ")

    async def ask(self, contact: int, key: str | None = None, **fields: Any) -> httpx.Response:
        form = {
            "sid": self.sid(),
            "entity": str(self.deal),
            "key": key or self.key(contact),
            "contact": str(contact),
            **{k: str(v) for k, v in fields.items()},
        }
        answer = await self.web.post("/b24/app/deal/ask", data=form)
        if answer.status_code == 200:
            self.html = answer.text
        return answer


async def submits(h: Stack) -> int:
    async with h.engine.connect() as conn:
        return int(
            await conn.scalar(select(func.count()).select_from(b24_deal_choice_submits)) or 0
        )


async def active_holds(h: Stack) -> int:
    async with h.engine.connect() as conn:
        return int(
            await conn.scalar(
                select(func.count()).select_from(holds).where(holds.c.status == "active")
            )
            or 0
        )


async def test_pay_for_one_contact_discount_for_the_other_then_win_and_lose(
    committed_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with travel_app(committed_engine, tmp_path) as h:
        concert = h.products["concert"]  # type: ignore[attr-defined]
        anna, boris = h.add_contact("Анна"), h.add_contact("Борис")
        today = h.services.now().astimezone(MOSCOW).date()
        born = today.replace(year=1990).isoformat()  # his birthday discount: 10 %
        h.call("crm.contact.update", {"id": boris, "fields": {"BIRTHDATE": born}})
        show = new_deal(h, [anna, boris], category=EVENTS, rows=((concert, 6000),))
        await h.settle()
        await with_points(h, anna, 1000)

        async with httpx.AsyncClient(base_url=h.web_url) as web:
            tab = Tab(h, web, show)
            html = (await tab.open()).replace(NBSP, " ")
            # before typing: balances, offers and the caps (Anna: her 1 000 points, all of her
            # half of the order may be paid; Boris: nothing to pay with)
            assert tab.value(f"available-{anna}") == "1 000"
            assert tab.value(f"cap-{anna}") == "1 000"
            assert tab.value(f"cap-{boris}") == "0"
            assert "Скидка в день рождения" in html
            assert "10 % — 300 ₽" in html  # Boris's birthday discount on his 3 000 ₽
            assert tab.value(f"earns-{anna}") == "300"  # 10 % of her 3 000 ₽ if won now

            # over the cap: refused with the cap named, nothing recorded
            over = await tab.ask(anna, points=1500)
            assert over.status_code == 422
            assert "Можно оплатить баллами не больше 1 000" in over.text.replace(NBSP, " ")
            # the program pays whole points only
            halves = await tab.ask(anna, points="500,5")
            assert halves.status_code == 422
            assert "Баллы списываются кратно 1" in halves.text
            # a percent above the one offered is refused too
            too_much = await tab.ask(boris, discount_birthday=15)
            assert too_much.status_code == 422
            assert "«Скидка в день рождения»: не больше 10 %" in too_much.text
            assert await submits(h) == 0

            # Anna pays 500 points; Boris takes his birthday discount
            key = tab.key(anna)
            paid = await tab.ask(anna, key=key, points=500)
            assert paid.status_code == 200, paid.text
            assert (await tab.ask(boris, discount_birthday=10)).status_code == 200
            # the same form sent twice counts once
            again = await tab.ask(anna, key=key, points=500)
            assert again.status_code == 200
            assert await submits(h) == 2
            await h.settle()

            assert (await h.balance(anna)).held == 500_00
            assert opportunity(h, show) == 6000 - 500 - 300
            # the list's elements show what the tab chose: one source, no two numbers
            lay = layout(h)
            assert float(element(h, show, anna)[lay.fields["points"]]) == 500
            assert float(element(h, show, boris)[lay.discounts["birthday"]]) == 10
            await tab.open()
            assert tab.value(f"held-{anna}") == "500"
            assert "Мария Соколова" in tab.value(f"chosen-{anna}")

            h.move(show, won(EVENTS))
            await h.settle()
            # won: Anna's 500 taken; both earn 10 % of what was paid in money, split equally
            rows = h.call("crm.deal.productrows.get", {"id": show})
            assert sum(float(r["PRICE"]) * float(r["QUANTITY"]) for r in rows) == 5200
            assert any(float(r.get("DISCOUNT_SUM") or 0) > 0 for r in rows)
            anna_now, boris_now = await h.balance(anna), await h.balance(boris)
            assert anna_now.held == 0
            assert anna_now.available == 1000_00 - 500_00 + 275_00
            assert boris_now.available == 275_00
            assert h.contact(anna)["UF_CRM_KOP_CASHBACK"] in ("775", "775.0", 775)
            assert h.contact(boris)["UF_CRM_KOP_CASHBACK"] in ("275", "275.0", 275)
            await tab.open()
            assert tab.value(f"paid-{anna}") == "500"
            assert tab.value(f"earns-{anna}") == "275"
            assert tab.value(f"earns-{boris}") == "275"
            closed = await tab.ask(anna, key=key + "x", points=100)
            assert closed.status_code == 422  # a won deal takes no new choices
            assert "Сделка закрыта" in closed.text

        # a deal that is lost gives the held points back
        other = new_deal(h, [anna, boris], category=EVENTS, rows=((concert, 4000),))
        await h.settle()
        async with httpx.AsyncClient(base_url=h.web_url) as web:
            tab = Tab(h, web, other)
            await tab.open()
            assert (await tab.ask(anna, points=200)).status_code == 200
            await h.settle()
            assert (await h.balance(anna)).held == 200_00
            # a manager then edits Anna's element in the list: the latest edit wins
            apply_in_list(h, other, anna, discounts={}, points=100)
            await sweep(h)
            assert (await h.balance(anna)).held == 100_00
            await tab.open()
            assert "в списке «Скидки и бонусы по сделкам»" in tab.value(f"chosen-{anna}")
            h.move(other, "C2:LOSE")
            await h.settle()
            after = await h.balance(anna)
            assert after.held == 0
            assert after.available == 775_00
            assert await active_holds(h) == 0


async def test_a_form_without_the_pages_session_changes_nothing(
    committed_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with travel_app(committed_engine, tmp_path) as h:
        concert = h.products["concert"]  # type: ignore[attr-defined]
        anna = h.add_contact("Анна")
        show = new_deal(h, [anna], category=EVENTS, rows=((concert, 6000),))
        await h.settle()
        await with_points(h, anna, 1000)
        async with httpx.AsyncClient(base_url=h.web_url) as web:
            form = {"entity": str(show), "contact": str(anna), "points": "500",
                    "key": "k" * 24}  # fmt: skip
            for sid in ("", "forged-" + "0" * 40):
                answer = await web.post("/b24/app/deal/ask", data={**form, "sid": sid})
                assert answer.status_code in (400, 401), answer.text
        await h.settle()
        assert await submits(h) == 0
        assert (await h.balance(anna)).held == 0


async def test_a_one_contact_deal_pays_through_the_deals_own_field(
    committed_engine: AsyncEngine,
) -> None:
    path, source = example("retail-wholesale.yaml")
    async with kopilka_on_emulator(committed_engine, load_program(path), source, app=True) as h:
        ivan = h.add_contact("Иван")
        deal = h.add_deal(ivan, "2000")
        await h.settle()
        await with_points(h, ivan, 1000)
        async with httpx.AsyncClient(base_url=h.web_url) as web:
            tab = Tab(h, web, deal)
            await tab.open()
            assert tab.value(f"cap-{ivan}") == "800"  # 40 % of 2 000 ₽
            assert "Сколько списать баллов" in tab.html
            assert (await tab.ask(ivan, points=300)).status_code == 200
            await h.settle()
            # the field and the tab are one input: the field shows it, one hold under the deal
            assert float(h.call("crm.deal.get", {"id": deal})["UF_CRM_KOP_PAY_POINTS"]) == 300
            assert (await h.balance(ivan)).held == 300_00
            assert await active_holds(h) == 1
            await tab.open()
            assert 'name="points"' in tab.html
            assert 'value="300"' in tab.html  # what the field asks, ready to change
            # a manager who types into the field is seen by the tab as well
            h.call("crm.deal.update", {"id": deal, "fields": {"UF_CRM_KOP_PAY_POINTS": 250}})
            await h.settle()
            assert (await h.balance(ivan)).held == 250_00
            await tab.open()
            assert 'value="250"' in tab.html

        # a robot asks the same service for the deal's payer, more than the cap: the cap is paid;
        # its event_token (long, with "|") twice records once
        token = "55c1dc1c3f0d75.78875596|A40364_79843_85254_57332|" + "x" * 80

        async def robot(conn: AsyncConnection) -> Asked:
            return await ask(
                conn, h.connection.portal_id, deal, None, points=5000_00, discounts={},
                actor="robot", key=token, now=h.services.now(), up_to_cap=True,
            )  # fmt: skip

        first = await run_in_transaction(h.engine, robot)
        assert (first.contact_id, first.points, first.via_field) == (ivan, 800_00, True)
        again = await run_in_transaction(h.engine, robot)
        assert again.replayed
        assert again.points == 800_00
        await h.settle()
        assert (await h.balance(ivan)).held == 800_00
        assert await submits(h) == 2  # the tab's and the robot's
