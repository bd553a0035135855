"""The admin's campaign calendar over real HTTP: a month grid, each day with the campaigns on
(a one-off week, a yearly window across New Year), and what a budgeted window gave so far."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.admin import passwords
from kopilka.api.portal import current_program
from kopilka.db.engine import run_in_transaction
from kopilka.ledger.accrual import accrue
from kopilka.lifecycle.service import apply_program
from kopilka.process.devstack import example
from kopilka.program import parse_program
from tests.factories import ref
from tests.integration.api.webauth import csrf_of, serve, start

pytestmark = pytest.mark.timeout(120)

CAMPAIGNS = """
campaigns:
  - {id: spring, title: Весенняя неделя, from: 2026-03-02, to: 2026-03-08, multiplier: 2,
     budget: 1000}
  - {id: holidays, title: Новогодние каникулы, every_year: {from: 12-25, to: 01-08}, bonus: 300}
"""


def days(html: str) -> dict[str, str]:
    """Each calendar cell's day and its text."""
    cells = re.findall(r'data-day="([0-9-]+)">(.*?)</td>', html, flags=re.DOTALL)
    return {day: re.sub(r"<[^>]+>", " ", text) for day, text in cells}


async def test_the_calendar_shows_each_campaign_on_its_days(committed_engine: AsyncEngine) -> None:
    stored = SecretStr(passwords.hash_password("right", iterations=1_000))
    async with serve(committed_engine, admin_password_hash=stored) as web:
        _, base = example("car-service.yaml")
        source = base + CAMPAIGNS
        program = parse_program(source, "car-service.yaml")

        async def unit(conn: AsyncConnection) -> None:
            now = datetime.now(UTC)
            await apply_program(conn, web.portal_id, program, source, actor="test", now=now)
            book, _ = await current_program(conn, web.portal_id)
            customer = await web.scalar(
                "SELECT id FROM customers WHERE portal_id = :p AND external_id = 'contact:501'"
            )
            await accrue(
                conn,
                book,
                customer_id=int(customer),
                amount=400_00,
                key=ref("k"),
                reason="+400 бонусов: ×2 по акции «Весенняя неделя»",
                actor="sync",
                now=now,
                rule_id="campaign:spring:2026-03-02",
                reference="deal:9001",
            )

        await run_in_transaction(web.engine, unit)
        async with web.client() as client:
            outside = await client.get("/admin/campaigns", follow_redirects=False)
            assert outside.status_code == 303  # no session: to the login
            await start(client, "/admin/login")
            login = await client.post(
                "/admin/login", data={"password": "right", "csrf": csrf_of(client)}
            )
            assert login.status_code == 303
            march = await client.get("/admin/campaigns")  # the clock says 2026-03-01
            january = await client.get("/admin/campaigns?month=2027-01")
    assert march.status_code == 200
    assert "Март 2026" in march.text
    grid = days(march.text)
    assert "Весенняя неделя" not in grid["2026-03-01"]
    assert all("Весенняя неделя" in grid[f"2026-03-0{d}"] for d in range(2, 9))
    assert "Весенняя неделя" not in grid["2026-03-09"]
    assert 'class=" today" data-day="2026-03-01"' in march.text
    assert "выдано 400 из 1\u00a0000" in march.text  # the window's budget, as the ledger has it
    assert "Пн" in march.text
    assert 'href="/admin/campaigns"' in march.text  # the admin's menu links the page
    grid = days(january.text)
    assert "Январь 2027" in january.text
    assert "Новогодние каникулы" in grid["2026-12-28"]  # the grid's first Monday, December
    assert all("Новогодние каникулы" in grid[f"2027-01-0{d}"] for d in range(1, 9))
    assert "Новогодние каникулы" not in grid["2027-01-09"]
    assert "Весенняя неделя" not in january.text.split('id="campaigns"')[0]
