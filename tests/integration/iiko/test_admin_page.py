"""``/admin/iiko`` over real HTTP: the guests' wallets, a till spend Kopilka could not honour in
full, and a reconcile asked for (with the form's CSRF token only)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.admin import passwords
from kopilka.api.portal import current_program
from kopilka.db.engine import run_in_transaction
from kopilka.fakes.iiko import IikoFake
from kopilka.iiko.client import IikoClient
from kopilka.iiko.service import connect, sync_link
from kopilka.iiko.tasks import SYNC_TASK
from kopilka.ledger.accrual import accrue
from kopilka.ledger.spending import redeem
from tests.factories import T0, ref
from tests.integration.api.webauth import PHONE, csrf_of, serve, start

pytestmark = pytest.mark.timeout(120)


async def move(conn: AsyncConnection, portal_id: int, customer: int, amount: int) -> None:
    """Points earned (> 0) or spent in Bitrix24 (< 0)."""
    book, _ = await current_program(conn, portal_id)
    common: dict[str, Any] = {"customer_id": customer, "key": ref("b24"), "actor": "test"}
    if amount > 0:
        await accrue(conn, book, amount=amount, reason="сделка", now=T0, **common)
    else:
        await redeem(conn, book, amount=-amount, reason="оплата", now=T0, **common)


async def test_the_page_shows_wallets_and_shortfalls(committed_engine: AsyncEngine) -> None:
    stored = SecretStr(passwords.hash_password("right", iterations=1_000))
    async with (
        serve(committed_engine, admin_password_hash=stored) as web,
        httpx.AsyncClient() as http,
    ):
        with IikoFake(api_login="key") as fake:
            client = IikoClient(http, fake.url, "key", fake.organization_id)

            async def link_it(conn: AsyncConnection):  # type: ignore[no-untyped-def]
                return await connect(
                    conn, client, web.portal_id, base_url=fake.url, api_login="key"
                )

            link = await run_in_transaction(web.engine, link_it)
            customer = int(
                await web.scalar("SELECT customer_id FROM cards WHERE number = :n", n=PHONE)
            )
            await run_in_transaction(web.engine, lambda c: move(c, web.portal_id, customer, 100_00))
            await sync_link(web.engine, client, link, web.clock, grace=timedelta(0))
            await run_in_transaction(web.engine, lambda c: move(c, web.portal_id, customer, -80_00))
            fake.till_spend(PHONE, 100, order="77")  # the wallet still showed 100
            await sync_link(web.engine, client, link, web.clock, grace=timedelta(0))

        async with web.client() as browser:
            await start(browser, "/admin/login")
            await browser.post("/admin/login", data={"password": "right", "csrf": csrf_of(browser)})
            page = await browser.get("/admin/iiko")
            forged = await browser.post("/admin/iiko/sync", data={"csrf": "forged"})
            asked = await browser.post(
                "/admin/iiko/sync", data={"csrf": csrf_of(browser)}, follow_redirects=False
            )
    assert page.status_code == 200
    assert PHONE in page.text
    assert 'id="short"' in page.text
    assert "77" in page.text.split('id="short"')[1]
    assert 'href="/admin/iiko"' in page.text  # the admin's menu links the page
    assert forged.status_code == 403
    assert asked.status_code == 303
    queued = await web.scalar(
        "SELECT count(*) FROM procrastinate_jobs WHERE task_name = :t AND status = 'todo'",
        t=SYNC_TASK,
    )
    assert queued == 1
    told = await web.scalar(
        "SELECT params->'fields'->>'COMMENT' FROM b24_outbox WHERE key LIKE 'iiko:short:%'"
    )
    assert "не хватило 80" in str(told)  # the manager is told on the contact's timeline
