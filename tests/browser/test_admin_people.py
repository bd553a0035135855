"""People and roles in the admin, in real Chromium (issue 18): the owner creates a manager with a
limit; the manager grants within it, is refused over it, and a grant above the approval threshold
waits until the owner approves it; the audit log shows all of it. Screenshots at desktop and
phone size go to var/screenshots/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.config import Settings
from kopilka.db.engine import run_in_transaction
from tests.browser.conftest import LiveServer
from tests.integration.admin.people import Shop, person, seed_shop

pytestmark = pytest.mark.timeout(180)
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}


@pytest.fixture
async def shop(committed_engine: AsyncEngine) -> AsyncIterator[tuple[str, Shop]]:
    async def unit(conn: AsyncConnection) -> Shop:
        found = await seed_shop(conn)
        await person(conn, found, "olga", "owner", password="olga's password")  # the first owner
        return found

    seeded = await run_in_transaction(committed_engine, unit)
    url = committed_engine.url.render_as_string(hide_password=False)
    settings = Settings(cabinet_portal=seeded.member, admin_grant_approval_above=1000)
    with LiveServer(url, settings) as server:
        yield server.url, seeded


async def sign_in(page: Any, url: str, login: str, password: str) -> None:
    await page.goto(f"{url}/admin/login")
    await page.fill("#login", login)
    await page.fill("#password", password)
    await page.click("#admin-login")
    await page.wait_for_selector("#whoami")


async def sign_out(page: Any) -> None:
    await page.click("#admin-logout")
    await page.wait_for_selector("#admin-login")


async def grant(page: Any, url: str, customer: int, amount: str, comment: str) -> str:
    await page.goto(f"{url}/admin/customers/{customer}")
    await page.select_option("#reason", "apology")
    await page.fill("#amount", amount)
    await page.fill("#comment", comment)
    await page.click("#do-grant")
    await page.wait_for_selector("#note")
    return str(await page.inner_text("#note"))


async def test_owner_creates_a_manager_who_grants_within_quota_and_waits_for_approval(
    shop: tuple[str, Shop], browser: Any, shots: Path, committed_engine: AsyncEngine
) -> None:
    url, seeded = shop
    context = await browser.new_context(viewport=SIZES["desktop"], locale="ru-RU")
    page = await context.new_page()

    # The owner adds Anna, a manager who may grant 2 500 points a month.
    await sign_in(page, url, "olga", "olga's password")
    await page.click("#nav-people")
    await page.wait_for_selector("#new-login")
    await page.fill("#new-login", "anna")
    await page.fill("#new-name", "Анна Петрова")
    await page.fill("#new-password", "anna's password")
    await page.select_option("#new-role", "manager")
    await page.fill("#new-limit", "2 500")
    await page.click("#create-person")
    assert "anna" in await page.inner_text("#note")
    assert "менеджер" in await page.inner_text("#person-anna")
    await page.screenshot(path=str(shots / "admin-people-desktop.png"), full_page=True)
    await sign_out(page)

    # Anna grants 800 (posted), 2 000 (over her limit: refused), 1 500 (above 1 000: waits).
    await sign_in(page, url, "anna", "anna's password")
    assert "Анна Петрова · менеджер" in await page.inner_text("#whoami")
    assert await page.locator("#nav-people").count() == 0  # not a manager's page
    posted = await grant(page, url, seeded.customer_id, "800", "опоздали с трансфером")
    assert "Начислено: 800" in posted
    refused = await grant(page, url, seeded.customer_id, "2 000", "потеряли багаж")
    assert refused.startswith("Не начислено")
    assert "1\u00a0700" in refused.replace(" ", "\u00a0")
    waiting = await grant(page, url, seeded.customer_id, "1 500", "испорченный отпуск")
    assert "ждёт согласования" in waiting
    ledger = await page.inner_text("#ledger")
    assert "+800" in ledger
    assert "1\u00a0500" not in ledger
    await page.screenshot(path=str(shots / "admin-grant-desktop.png"), full_page=True)
    phone = await browser.new_context(viewport=SIZES["phone"], locale="ru-RU")
    small = await phone.new_page()
    await sign_in(small, url, "anna", "anna's password")
    await small.goto(f"{url}/admin/customers/{seeded.customer_id}")
    await small.screenshot(path=str(shots / "admin-grant-phone.png"), full_page=True)
    width = await small.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing runs off a phone's screen
    await sign_out(page)

    # Olga approves it: only then is it posted.
    await sign_in(page, url, "olga", "olga's password")
    await page.click("#nav-requests")
    await page.wait_for_selector(".request")
    request = await page.inner_text(".request")
    assert "1\u00a0500" in request
    assert "Анна Петрова" in request
    await page.click(".request .approve")
    await page.wait_for_selector("#note")
    assert "Согласовано" in await page.inner_text("#note")
    async with committed_engine.connect() as conn:
        amounts = (
            (
                await conn.execute(
                    text(
                        "SELECT e.amount FROM ledger_entries e "
                        "JOIN accounts a ON a.id = e.account_id "
                        "WHERE a.portal_id = :p AND a.kind = 'customer' ORDER BY e.id"
                    ),
                    {"p": seeded.portal_id},
                )
            )
            .scalars()
            .all()
        )
    assert amounts == [800_00, 1500_00]

    # The audit log shows all of it, and filters by person.
    await page.click("#nav-audit")
    await page.wait_for_selector("#audit-filter")
    rows = await page.locator(".audit-row").all_inner_texts()
    said = [r.replace("\t", " ") for r in rows]
    assert any("admin:olga" in r and "новый пользователь" in r and "anna" in r for r in said)
    assert any("admin:anna" in r and "начисление" in r and "опоздали" in r for r in said)
    assert any("admin:anna" in r and "заявка на начисление" in r for r in said)
    assert any("admin:olga" in r and "заявка согласована" in r for r in said)
    await page.screenshot(path=str(shots / "admin-audit-desktop.png"), full_page=True)
    await page.fill("#f-person", "anna")
    await page.click("#f-go")
    await page.wait_for_url("**/admin/audit?person=anna*")
    only = await page.locator(".audit-row").all_inner_texts()
    assert only
    assert all("admin:anna" in r for r in only)
    await sign_in(small, url, "olga", "olga's password")
    await small.goto(f"{url}/admin/audit")
    await small.screenshot(path=str(shots / "admin-audit-phone.png"), full_page=True)
    assert await small.evaluate("document.documentElement.scrollWidth") <= 390

    # English is complete: no Russian label left on the page (only the people's own words).
    await page.goto(f"{url}/admin/audit?lang=en")
    labels = await page.locator("header, th, label, button").all_inner_texts()
    labels = [x.replace("Русский", "") for x in labels]  # the way back, in its own language
    assert "Audit log" in labels[0]
    assert not [x for x in labels if any("а" <= c <= "я" for c in x.lower())]
    await context.close()
    await phone.close()
