"""The cabinet in real Chromium: log in with the code the SMS fake received, see the balance,
history and orders, show the card; wrong codes lock out. Screenshots go to var/screenshots/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.conftest import Site

pytestmark = pytest.mark.timeout(120)

SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}


async def log_in(page: Any, site: Site, typed_phone: str, shot: Path | None = None) -> None:
    await page.goto(f"{site.url}/cabinet")
    await page.wait_for_url("**/cabinet/login")
    await page.fill("#phone", typed_phone)
    sent = len(site.sms.messages)
    await page.click("#get-code")
    await page.wait_for_selector("#code")
    assert len(site.sms.messages) == sent  # queued, not sent by the page
    # The resend timer: the seconds left, and (resend.js) the button off until then.
    assert "Новый код можно будет запросить через" in await page.inner_text("#resend-timer")
    await expect(page.locator("#resend-code")).to_be_disabled()
    if shot is not None:
        await page.screenshot(path=str(shot), full_page=True)
    assert (await site.deliver()).sent == 1  # the notify worker sends it
    assert len(site.sms.messages) == sent + 1
    message = site.sms.messages[-1]
    assert message.phone == site.phone.lstrip("+")  # normalised: "8 (916) …" → 7916…
    assert "Код для входа" in message.text
    await page.fill("#code", site.codes()[-1])
    await page.click("#enter")
    await page.wait_for_selector("#balance")


@pytest.mark.parametrize("size", ["phone", "desktop"])
async def test_log_in_see_balance_history_orders_and_the_card(
    site: Site, browser: Any, shots: Path, size: str
) -> None:
    context = await browser.new_context(viewport=SIZES[size], locale="ru-RU")
    page = await context.new_page()
    await page.goto(f"{site.url}/cabinet/login")
    await page.screenshot(path=str(shots / f"cabinet-login-{size}.png"), full_page=True)

    await log_in(page, site, "8 (916) 123-45-67", shot=shots / f"cabinet-code-{size}.png")
    assert (await page.inner_text("#available")).replace("\u00a0", " ") == "624"
    assert "100" in await page.inner_text("#pending")
    expiring = await page.locator(".expiring").all_inner_texts()
    assert len(expiring) == 1
    assert "249" in expiring[0]
    assert "Сгорают" in expiring[0]
    history = await page.locator(".history-line").all_inner_texts()
    assert any("+375" in line and "сделка №7001" in line for line in history)
    orders = await page.locator(".order").all_inner_texts()
    assert [o.split("\n")[0] for o in orders] == ["Сделка №7002", "Сделка №7001"]
    assert "12\u00a0500" in orders[1]
    level = await page.inner_text("#level")
    assert "Серебряный · " in level  # the current level (2 won deals), with its percent
    assert "Золотой" in level  # and the next one: one more deal
    assert "ещё 1" in level
    assert (await page.inner_text("#card-number")) == "+7 916 123-45-67"
    await page.screenshot(path=str(shots / f"cabinet-home-{size}.png"), full_page=True)

    await page.click("#show-card")
    await page.wait_for_selector("#qr svg")
    assert await page.locator("#barcode svg").count() == 1
    await page.screenshot(path=str(shots / f"cabinet-card-{size}.png"), full_page=True)

    await page.goto(f"{site.url}/cabinet?lang=en")
    assert "Points history" in await page.inner_text("#history")
    await page.goto(f"{site.url}/cabinet")  # the choice sticks (cookie)
    assert "Balance" in await page.inner_text("#balance")

    await page.click("#logout")
    await page.wait_for_url("**/cabinet/login")
    await page.goto(f"{site.url}/cabinet")
    await page.wait_for_url("**/cabinet/login*")
    await context.close()


async def test_wrong_codes_lock_out_and_codes_are_single_use(
    site: Site, browser: Any, shots: Path
) -> None:
    context = await browser.new_context(viewport=SIZES["phone"], locale="ru-RU")
    page = await context.new_page()
    await page.goto(f"{site.url}/cabinet/login")
    await page.fill("#phone", "+7 916 123 45 67")
    await page.click("#get-code")
    await page.wait_for_selector("#code")
    await site.deliver()
    good = site.codes()[-1]
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    for attempt in range(3):  # the limit in this test's settings
        await page.fill("#code", wrong)
        async with page.expect_response(lambda r: r.url.endswith("/cabinet/verify")) as sent:
            await page.click("#enter")
        answer = await sent.value
        if attempt < 2:
            assert answer.status == 401
            await expect(page.locator("#error")).to_contain_text("Неверный")
    assert answer.status == 429
    await expect(page.locator("#error")).to_contain_text("заблокирован")
    await page.screenshot(path=str(shots / "cabinet-locked-phone.png"), full_page=True)

    # Even the right code no longer works: the lockout voided it, and the phone is locked.
    answer = await page.request.post(
        f"{site.url}/cabinet/verify",
        form={"phone": site.phone, "code": good, "csrf": (await context.cookies())[0]["value"]},
    )
    assert answer.status == 429
    await context.close()
