"""The operations pages in Chromium on a phone (issue 18, items 4 and 7): the operator signs in,
opens the failed messages from the operations page, sends one again — the page says so and the
outbox has it pending — and nothing is wider than the screen. Screenshots go to
var/screenshots/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.admin import passwords
from kopilka.db.engine import run_in_transaction
from kopilka.notify.outbox import queue
from tests.integration.api.webauth import PHONE, serve

PHONE_SIZE = {"width": 390, "height": 844}
FITS = "document.documentElement.scrollWidth <= window.innerWidth"


async def test_an_operator_sends_a_failed_message_again_on_a_phone(
    committed_engine: AsyncEngine, browser: Any, shots: Path
) -> None:
    stored = SecretStr(passwords.hash_password("pw", iterations=1_000))
    async with serve(
        committed_engine, admin_password_hash=stored, notify_max_attempts=1, quiet_hours=""
    ) as web:

        async def unit(conn: Any) -> None:
            await queue(conn, web.portal_id, key="browser:1", channel="sms", recipient=PHONE,
                        body="Бонусы начислены", not_before=web.clock())  # fmt: skip

        await run_in_transaction(web.engine, unit)
        web.sms.fail_next(1, error=201)
        assert (await web.deliver()).failed == 1

        context = await browser.new_context(viewport=PHONE_SIZE, locale="ru-RU")
        page = await context.new_page()
        await page.goto(web.url + "/admin/login")
        await page.fill("#password", "pw")
        await page.click("#admin-login")
        await page.wait_for_url("**/admin/customers")
        await page.click("#nav-operations")
        await page.wait_for_selector("#outbox")
        assert await page.evaluate(FITS)
        await page.screenshot(path=str(shots / "admin-operations-phone.png"), full_page=True)

        await page.click("#failed-messages")
        answer = page.locator(".provider-answer")
        assert (await answer.inner_text()).startswith("smsru: code 201")
        assert await page.evaluate(FITS)
        await page.click("button.retry")
        await page.wait_for_selector("#done")
        assert await page.inner_text("#done") == "Сообщение снова в очереди"
        await page.screenshot(path=str(shots / "admin-messages-phone.png"), full_page=True)
        await context.close()
        status = await web.scalar(
            "SELECT status FROM notifications WHERE portal_id = :p AND key = 'browser:1'"
        )
        assert status == "pending"
