"""Acting in the admin over real HTTP (issue 18): a wrong manual grant is reversed with a reason
(and only a manual grant), and a viewer may read but not grant."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.db.engine import run_in_transaction
from kopilka.ledger.accrual import accrue
from kopilka.lifecycle.service import active_program
from tests.integration.admin.people import NOW, person, served, signed_in

pytestmark = pytest.mark.timeout(120)


def _csrf(client: httpx.AsyncClient) -> str:
    return str(client.cookies.get("kop_csrf"))


async def _rows(engine: AsyncEngine, sql: str, **params: object) -> list[tuple[object, ...]]:
    async with engine.connect() as conn:
        return [tuple(r) for r in await conn.execute(text(sql), params)]


async def test_a_wrong_manual_grant_is_reversed_with_a_reason(
    committed_engine: AsyncEngine,
) -> None:
    async with served(committed_engine) as (url, shop):

        async def deal_points(conn: AsyncConnection) -> int:
            book, _ = await active_program(conn, shop.portal_id, NOW)
            posted = await accrue(
                conn,
                book,
                customer_id=shop.customer_id,
                amount=300_00,
                key="deal-1",
                reason="сделка №1",
                actor="sync",
                now=NOW,
            )
            return posted.id

        deal_tx = await run_in_transaction(committed_engine, deal_points)
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            await signed_in(client, "olga")
            path = f"/admin/customers/{shop.customer_id}"
            granted = await client.post(
                f"{path}/grant",
                data={
                    "reason": "apology",
                    "amount": "700",
                    "comment": "не тот клиент",
                    "key": "g1",
                    "csrf": _csrf(client),
                },
            )
            assert "Начислено" in (await client.get(granted.headers["location"])).text
            [(grant_tx,)] = await _rows(
                committed_engine,
                "SELECT id FROM ledger_transactions WHERE rule_id = 'manual:apology'",
            )
            page = (await client.get(path)).text
            assert page.count('class="secondary reverse"') == 1  # the grant's, not the deal's
            not_manual = await client.post(
                f"{path}/reverse",
                data={"transaction_id": str(deal_tx), "why": "просто так", "csrf": _csrf(client)},
            )
            reversed_ = await client.post(
                f"{path}/reverse",
                data={
                    "transaction_id": str(grant_tx),
                    "why": "начислили не тому клиенту",
                    "csrf": _csrf(client),
                },
            )
            said = (await client.get(reversed_.headers["location"])).text
            refused = (await client.get(not_manual.headers["location"])).text
    assert "Запись отменена" in said
    assert "Не начислено" in refused
    reversals = await _rows(
        committed_engine,
        "SELECT reverses_id, actor, reason FROM ledger_transactions WHERE kind = 'reversal'",
    )
    assert reversals == [(grant_tx, "admin:olga", "начислили не тому клиенту")]
    audited = await _rows(
        committed_engine,
        "SELECT action, reason FROM audit_log WHERE actor = 'admin:olga' "
        "AND action IN ('grant.posted', 'entry.reversed') ORDER BY id",
    )
    assert audited == [
        ("grant.posted", "не тот клиент"),
        ("entry.reversed", "начислили не тому клиенту"),
    ]


async def test_a_viewer_reads_but_cannot_grant(committed_engine: AsyncEngine) -> None:
    async with served(committed_engine) as (url, shop):

        async def unit(conn: AsyncConnection) -> None:
            await person(conn, shop, "vera", "viewer")

        await run_in_transaction(committed_engine, unit)
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            await signed_in(client, "vera")
            path = f"/admin/customers/{shop.customer_id}"
            page = await client.get(path)
            posted = await client.post(
                f"{path}/grant",
                data={"reason": "review", "amount": "500", "key": "v1", "csrf": _csrf(client)},
            )
            audit = await client.get("/admin/audit")
    assert page.status_code == 200
    assert "Анна Смирнова" in page.text
    assert not re.search(r'id="do-grant"', page.text)
    assert posted.status_code == 403
    assert audit.status_code == 403
    assert (
        await _rows(
            committed_engine, "SELECT id FROM ledger_transactions WHERE rule_id LIKE 'manual:%'"
        )
        == []
    )


async def test_the_admin_speaks_the_programs_language_unless_asked(
    committed_engine: AsyncEngine,
) -> None:
    async with served(committed_engine, locale="en") as (url, shop):
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            await signed_in(client, "olga")
            path = f"/admin/customers/{shop.customer_id}"
            english = (await client.get(path)).text
            russian = (await client.get(path, params={"lang": "ru"})).text
            remembered = (await client.get(path)).text
    assert "Grant points by hand" in english
    assert "Sign out" in english
    assert "Начислить бонусы вручную" not in english
    assert "Начислить бонусы вручную" in russian
    assert "Начислить бонусы вручную" in remembered  # the person's pick sticks
