"""The cabinet in real Chromium: log in with the code the SMS fake received, see the balance,
history and orders (with their details), show the card, in Russian and English, never a CRM
word; wrong codes lock out. Screenshots go to var/screenshots/."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import expect
from sqlalchemy import text

from kopilka.api.portal import current_program
from kopilka.db.engine import run_in_transaction
from kopilka.ledger.accrual import accrue
from kopilka.ledger.reversal import reverse
from tests.browser.conftest import Site
from tests.factories import ref

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


CRM_WORDS = ("сделк", "deal")  # lower case: «Сделка» and «сделки» too
ITEMS = [
    {"product_id": 11, "name": "Замена масла", "price": 450_000, "quantity": 1},
    {"product_id": 12, "name": "Масляный фильтр", "price": 80_000, "quantity": 2},
    {"product_id": 13, "name": "Диагностика ходовой", "price": 640_000, "quantity": 1},
]


async def as_recorded(site: Site) -> str:
    """What the deal sync records that the seed does not: deal 7001's product rows; and an
    accrual of a deal that is no longer won, cancelled. The date the cabinet shows for 7001."""

    async def unit(conn: Any) -> str:
        await conn.execute(
            text(
                "UPDATE b24_deals SET engine_input = CAST(:j AS jsonb) "
                "WHERE portal_id = :p AND deal_id = 7001"
            ),
            {"p": site.portal_id, "j": json.dumps({"v": 1, "id": 7001, "rows": ITEMS})},
        )
        book, _ = await current_program(conn, site.portal_id)
        now = datetime.now(UTC)
        earned = await accrue(
            conn,
            book,
            customer_id=site.customer_id,
            amount=50_00,
            key=ref("k"),
            reason="+50 бонусов: 3 % от 1 666 ₽ — сделка №7003",
            actor="sync",
            now=now - timedelta(days=5),
            reference="deal:7003",
        )
        await reverse(
            conn,
            book,
            transaction_id=earned.id,
            key=ref("r"),
            reason="сделка больше не выиграна",
            actor="sync",
            now=now - timedelta(days=4),
        )
        closed = await conn.scalar(
            text("SELECT closed_at FROM b24_deals WHERE portal_id = :p AND deal_id = 7001"),
            {"p": site.portal_id},
        )
        return str(closed.astimezone(ZoneInfo("Europe/Moscow")).strftime("%d.%m.%Y"))

    return await run_in_transaction(site.engine, unit)


async def no_crm_words(page: Any) -> str:
    """The page as the customer reads it (its title too), checked for CRM words."""
    shown = (await page.title()) + "\n" + await page.inner_text("body")
    for word in CRM_WORDS:
        assert word not in shown.lower(), f"{word!r} on {page.url}: {shown}"
    return shown


@pytest.mark.parametrize("size", ["phone", "desktop"])
async def test_log_in_see_balance_history_orders_and_the_card(
    site: Site, browser: Any, shots: Path, size: str
) -> None:
    day = await as_recorded(site)
    # An English browser: the program's locale (ru) is the cabinet's until the customer
    # switches.
    context = await browser.new_context(viewport=SIZES[size], locale="en-US")
    page = await context.new_page()
    await page.goto(f"{site.url}/cabinet/login")
    assert "Вход в личный кабинет" in await no_crm_words(page)
    assert await page.inner_text("#shop-name") == "Бонусы автосервиса"  # the title: no shop name
    await page.screenshot(path=str(shots / f"cabinet-login-{size}.png"), full_page=True)

    await log_in(page, site, "8 (916) 123-45-67", shot=shots / f"cabinet-code-{size}.png")
    assert (await page.inner_text("#available")).replace("\u00a0", " ") == "624"
    assert await page.inner_text("#unit") == "балла"  # 624 балла: CLDR's "few"
    assert "100\u00a0баллов" in await page.inner_text("#pending")
    expiring = await page.locator(".expiring").all_inner_texts()
    assert len(expiring) == 1
    assert "249\u00a0баллов" in expiring[0]
    assert "Сгорают" in expiring[0]
    history = await page.locator(".history-line").all_inner_texts()
    assert any(f"Начислено за заказ от {day}" in h and "+375\u00a0баллов" in h for h in history)
    cancelled = [h for h in history if "Начисление отменено: заказ отменён" in h]
    assert len(cancelled) == 1
    assert "−50\u00a0баллов" in cancelled[0].replace("-", "−")
    orders = page.locator(".order")
    titles = await page.locator(".order-title").all_inner_texts()
    assert titles[1] == f"Заказ от {day}"
    assert [t.startswith("Заказ от ") for t in titles] == [True, True]
    await orders.nth(1).locator("summary").click()
    details = await orders.nth(1).locator(".items").inner_text()
    assert "Замена масла" in details
    assert "Диагностика ходовой" in details
    assert "2 шт. × 800\u00a0₽" in details.replace(",00", "")
    assert await orders.nth(1).locator(".order-earned").inner_text() == "375\u00a0баллов"
    assert await orders.nth(1).locator(".order-paid").inner_text() == "0\u00a0баллов"
    level = await page.inner_text("#level")
    assert "Серебряный · " in level  # the current level (2 won deals), with its percent
    assert "Золотой" in level  # and the next one: one more deal
    assert "ещё 1\u00a0покупка" in level
    assert (await page.inner_text("#card-number")) == "+7 916 123-45-67"
    await no_crm_words(page)
    await page.screenshot(path=str(shots / f"cabinet-home-ru-{size}.png"), full_page=True)

    await page.goto(f"{site.url}/cabinet/history")
    assert f"Начислено за заказ от {day}" in await no_crm_words(page)
    await page.screenshot(path=str(shots / f"cabinet-history-ru-{size}.png"), full_page=True)
    await page.goto(f"{site.url}/cabinet/orders")
    await page.locator(".order summary").nth(1).click()
    assert "Масляный фильтр" in await no_crm_words(page)
    await page.screenshot(path=str(shots / f"cabinet-orders-ru-{size}.png"), full_page=True)

    await page.goto(f"{site.url}/cabinet")
    await page.click("#show-card")
    await page.wait_for_selector("#qr svg")
    await till_card(page)
    await no_crm_words(page)
    await page.screenshot(path=str(shots / f"cabinet-card-ru-{size}.png"), full_page=True)

    await page.goto(f"{site.url}/cabinet?lang=en")  # the customer switches
    assert "Points history" in await page.inner_text("#history")
    await page.goto(f"{site.url}/cabinet")  # the choice sticks (cookie)
    assert "Balance" in await page.inner_text("#balance")
    assert await page.inner_text("#unit") == "points"
    assert "1\u00a0purchase to go to «Золотой»" in await page.inner_text("#level")
    history = await page.locator(".history-line").all_inner_texts()
    assert any(f"Earned on the order of {day}" in h and "+375\u00a0points" in h for h in history)
    assert any("Points cancelled: the order was cancelled" in h for h in history)
    await page.locator(".order summary").nth(1).click()
    assert f"Order of {day}" in await no_crm_words(page)
    await page.screenshot(path=str(shots / f"cabinet-home-en-{size}.png"), full_page=True)
    for name in ("history", "orders", "card"):
        await page.goto(f"{site.url}/cabinet/{name}")
        if name == "orders":
            await page.locator(".order summary").nth(1).click()
        await no_crm_words(page)
        await page.screenshot(path=str(shots / f"cabinet-{name}-en-{size}.png"), full_page=True)

    await page.goto(f"{site.url}/cabinet")
    await page.click("#logout")
    await page.wait_for_url("**/cabinet/login")
    await page.goto(f"{site.url}/cabinet")
    await page.wait_for_url("**/cabinet/login*")
    await context.close()


async def till_card(page: Any) -> None:
    """The card for a till: a large QR; the Code128 centred, whole, the number under it."""
    box = await page.locator("section.till").bounding_box()
    # what is drawn, not the boxes: an SVG without a viewBox draws at its own size in a
    # stretched box, at the top left
    qr = await page.locator("#qr svg path").first.bounding_box()
    bar = await page.locator("#barcode svg g").first.bounding_box()
    number = await page.locator("#card-number").bounding_box()
    assert qr["width"] >= 240
    middle = box["x"] + box["width"] / 2
    for part in (qr, bar, number):
        assert abs(part["x"] + part["width"] / 2 - middle) <= 2
    assert bar["x"] >= box["x"]
    assert bar["x"] + bar["width"] <= box["x"] + box["width"]
    assert number["y"] >= bar["y"] + bar["height"]  # the number under the barcode
    assert await page.locator("#barcode rect").count() > 20  # bars drawn, not an empty box


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
