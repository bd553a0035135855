"""Two shops on one Kopilka, each cabinet at its own host (``cabinet_hosts``): each shows its
own shop, program and customers; a session of one is refused by the other, and a phone known
only to one gets no code from the other."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.config import Settings
from kopilka.db.engine import run_in_transaction
from kopilka.fakes.smsru import SmsRuFake
from kopilka.ledger.accrual import accrue
from kopilka.ledger.book import ensure_customer, ensure_portal
from kopilka.lifecycle.service import install_program
from kopilka.program.loader import parse_program
from tests.browser.conftest import ROOT, LiveServer, deliver, portal_of, seed_portal
from tests.factories import ref

pytestmark = pytest.mark.timeout(120)

PHONE_A = "+79161234567"
PHONE_B = "+79035550011"
LOGO = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAEElEQVR4nGPgzvOHIwbiOABBAwyBDP11IAAAAABJRU5ErkJggg=="
)


async def seed_shop_b(engine: AsyncEngine, member: str) -> int:
    """A second shop: its own name, «бонусы» for its points, a customer with 21 of them."""
    data = yaml.safe_load((ROOT / "examples" / "retail-wholesale.yaml").read_text("utf-8"))
    data["shop"] = {"name": "Магазин «Ромашка»", "logo": LOGO}
    data["points"] = {**data.get("points", {}), "unit": "бонусы"}
    source = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    program = parse_program(source, "shop-b.yaml")

    async def unit(conn: Any) -> int:
        portal_id = await ensure_portal(conn, member)
        book = await install_program(conn, portal_id, program, source)
        cid = await ensure_customer(conn, portal_id, "contact:77", name="Борис", phone=PHONE_B)
        await accrue(
            conn,
            book,
            customer_id=cid,
            amount=21_00,
            key=ref("k"),
            reason="приветственные",
            actor="user:1",
            now=datetime.now(UTC),
        )
        return portal_id

    return await run_in_transaction(engine, unit)


async def log_in(page: Any, url: str, phone: str, sms: SmsRuFake, send: Any) -> None:
    await page.goto(f"{url}/cabinet/login")
    await page.fill("#phone", phone)
    await page.click("#get-code")
    await page.wait_for_selector("#code, #error")
    assert await page.locator("#error").count() == 0, await page.inner_text("#error")
    assert (await send()).sent == 1
    await page.fill("#code", "".join(c for c in sms.messages[-1].text if c.isdigit()))
    await page.click("#enter")
    await page.wait_for_selector("#balance")


async def test_two_shops_each_at_its_own_host(
    committed_engine: AsyncEngine, browser: Any, shots: Path
) -> None:
    shop_a, shop_b = ref("shop-a"), ref("shop-b")
    await seed_portal(committed_engine, shop_a, PHONE_A)
    portal_b = await seed_shop_b(committed_engine, shop_b)
    portal_a = await portal_of(committed_engine, shop_a)
    url = committed_engine.url.render_as_string(hide_password=False)
    with SmsRuFake(api_id="test") as sms:
        settings = Settings(
            cabinet_portal=shop_a,  # 127.0.0.1 and any other host
            cabinet_hosts={"localhost": shop_b},
            smsru_api_id=SecretStr("test"),
            smsru_url=sms.url,
        )
        with LiveServer(url, settings) as server:
            url_a = server.url
            url_b = server.url.replace("127.0.0.1", "localhost")
            context = await browser.new_context(viewport={"width": 390, "height": 844})
            page = await context.new_page()

            await page.goto(f"{url_a}/cabinet/login")
            assert await page.inner_text("#shop-name") == "Бонусы автосервиса"
            await page.goto(f"{url_b}/cabinet/login")
            assert await page.inner_text("#shop-name") == "Магазин «Ромашка»"
            logo = page.locator("#shop-logo")
            assert await logo.evaluate("img => img.complete && img.naturalWidth") == 4
            await page.goto(f"{url_a}/cabinet/login")
            assert await page.locator("#shop-logo").count() == 0  # A has none
            await page.goto(f"{url_b}/cabinet/login")

            # Shop A's customer is nobody at shop B: the same answer, and no code is sent.
            await page.fill("#phone", PHONE_A)
            await page.click("#get-code")
            await page.wait_for_selector("#code")
            assert (await deliver(committed_engine, settings, portal_b)).sent == 0
            assert sms.messages == []

            await log_in(
                page, url_b, PHONE_B, sms, lambda: deliver(committed_engine, settings, portal_b)
            )
            assert await page.inner_text("#shop-name") == "Магазин «Ромашка»"
            assert "Борис" in await page.inner_text("#balance")
            assert await page.inner_text("#available") == "21"
            assert await page.inner_text("#unit") == "бонус"  # 21 бонус
            await page.screenshot(path=str(shots / "cabinet-shop-b-phone.png"), full_page=True)

            # Shop B's session, carried to shop A's address, opens nothing there.
            cookies = await context.cookies(f"{url_b}/cabinet")
            session = next(c for c in cookies if c["name"] == "kop_session")
            carried = await browser.new_context()
            await carried.add_cookies(
                [{"name": "kop_session", "value": session["value"], "url": f"{url_a}/cabinet"}]
            )
            other = await carried.new_page()
            await other.goto(f"{url_a}/cabinet")
            await other.wait_for_url("**/cabinet/login?note=expired")
            assert await other.inner_text("#shop-name") == "Бонусы автосервиса"
            await carried.close()

            # Shop A's own customer logs in at A and sees A's program and card.
            await log_in(
                page, url_a, PHONE_A, sms, lambda: deliver(committed_engine, settings, portal_a)
            )
            assert (await page.inner_text("#available")).replace("\u00a0", " ") == "624"
            assert "Анна Смирнова" in await page.inner_text("#balance")
            await page.goto(f"{url_b}/cabinet")  # B's own session still opens B
            assert "Борис" in await page.inner_text("#balance")
            await context.close()
