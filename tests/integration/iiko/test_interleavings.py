"""Random interleavings of Bitrix24 spends and accruals, till spends and refunds, iikoCloud
down, 429, expired tokens and writes whose answer was lost (landed or not), with syncs between:
once iiko answers again the wallet equals Kopilka's available balance, every till transaction
is posted exactly once, no push is written twice, and the ledger never goes below zero."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import NullPool

from kopilka.db.engine import create_engine, run_in_transaction
from kopilka.fakes.iiko import IikoFake
from kopilka.iiko import queries
from kopilka.iiko.client import IikoClient
from kopilka.iiko.service import connect, sync_link
from kopilka.ledger.accrual import accrue
from kopilka.ledger.book import ensure_customer, ensure_portal
from kopilka.ledger.queries import balance
from kopilka.ledger.spending import redeem
from kopilka.ledger.types import Book
from kopilka.lifecycle.service import install_program
from kopilka.program.loader import load_program
from tests.conftest import TEMPLATE, create_database, drop_database
from tests.factories import ref

EXAMPLE = Path(__file__).parents[3] / "examples" / "retail-wholesale.yaml"
PHONE = "+79160000001"
LOGIN = "login"
points = st.integers(min_value=1, max_value=8).map(lambda n: n * 100_00)
ops = st.one_of(
    st.tuples(st.just("b24_spend"), points),
    st.tuples(st.just("b24_earn"), points),
    st.tuples(st.just("till_spend"), points),
    st.tuples(st.just("till_refund"), points),
    st.tuples(st.just("fault"), st.sampled_from(["down", "429", "expire", "landed", "lost"])),
    st.just(("sync",)),
    st.just(("sync",)),
)


@pytest.fixture(scope="module")
def iiko_db(template_url: str, pg_server: str) -> Iterator[str]:
    name = f"kopilka_iiko_{uuid.uuid4().hex[:8]}"
    yield create_database(pg_server, name, TEMPLATE)
    drop_database(pg_server, name)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(program=st.lists(ops, min_size=3, max_size=14))
def test_wallet_and_ledger_end_equal_whatever_the_interleaving(
    program: list[tuple[Any, ...]], iiko_db: str
) -> None:
    asyncio.run(_example(program, iiko_db))


async def _example(program: list[tuple[Any, ...]], url: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with IikoFake(api_login=LOGIN) as fake:
            async with httpx.AsyncClient() as http:
                await _run(engine, fake, http, program)
    finally:
        await engine.dispose()


async def _run(
    engine: AsyncEngine, fake: IikoFake, http: httpx.AsyncClient, program: list[tuple[Any, ...]]
) -> None:
    now = datetime.now(UTC)
    client = IikoClient(http, fake.url, LOGIN, fake.organization_id, http_timeout=0.3)

    async def setup(conn: AsyncConnection) -> tuple[Book, int, queries.Link]:
        portal_id = await ensure_portal(conn, ref("portal"))
        book = await install_program(
            conn, portal_id, load_program(EXAMPLE), EXAMPLE.read_text(), now=now - timedelta(1)
        )
        customer = await ensure_customer(conn, portal_id, ref("contact"), phone=PHONE)
        await accrue(
            conn,
            book,
            customer_id=customer,
            amount=500_00,
            key=ref("start"),
            reason="старт",
            actor="test",
            now=now - timedelta(hours=1),
        )
        link = await connect(conn, client, portal_id, base_url=fake.url, api_login=LOGIN)
        return book, customer, link

    book, customer, link = await run_in_transaction(engine, setup)

    async def available() -> int:
        async def read(conn: AsyncConnection) -> int:
            return (await balance(conn, book, customer, now)).available

        return await run_in_transaction(engine, read)

    async def sync() -> None:
        await sync_link(engine, client, link, lambda: now, grace=timedelta(0))

    async def ledger(kind: str, amount: int) -> None:
        async def unit(conn: AsyncConnection) -> None:
            common: dict[str, Any] = {
                "customer_id": customer,
                "amount": amount,
                "key": ref(kind),
                "actor": "test",
                "now": now,
            }
            if kind == "spend":
                await redeem(conn, book, reason="оплата в сделке", **common)
            else:
                await accrue(conn, book, reason="сделка выиграна", **common)

        await run_in_transaction(engine, unit)

    await sync()
    till_spent = 0
    for op in program:
        wallet = fake.guest_by_phone(PHONE)
        assert wallet is not None
        if op[0] == "b24_spend" and await available() >= op[1]:
            await ledger("spend", op[1])
        elif op[0] == "b24_earn":
            await ledger("earn", op[1])
        elif op[0] == "till_spend" and wallet.balance * 100 >= op[1]:
            fake.till_spend(PHONE, op[1] // 100)
            till_spent += op[1]
        elif op[0] == "till_refund" and till_spent >= op[1]:
            fake.till_refund(PHONE, op[1] // 100)
            till_spent -= op[1]
        elif op[0] == "fault":
            if op[1] == "down":
                fake.fail_next(2, error=503)
            elif op[1] == "429":
                fake.fail_next(1, error=429)
            elif op[1] == "expire":
                fake.expire_tokens()
            else:  # a wallet write done (or not) whose answer never comes back in time
                for path in ("wallet/topup", "wallet/chargeoff"):
                    fake.stall_path(path, seconds=0.6, accept=op[1] == "landed")
        elif op[0] == "sync":
            await sync()
    fake.heal()
    fake._path_faults.clear()
    await asyncio.sleep(0.7)  # let a stalled answer finish (the fake's threads)
    for _ in range(3):
        await sync()

    assert await available() >= 0
    guest = fake.guest_by_phone(PHONE)
    assert guest is not None
    assert int(guest.balance * 100) == await available()

    async def rows(conn: AsyncConnection) -> tuple[list[Any], list[Any]]:
        events = (
            (
                await conn.execute(
                    text("SELECT transaction_id FROM iiko_till_events WHERE link_id = :l"),
                    {"l": link.id},
                )
            )
            .scalars()
            .all()
        )
        landed = (
            (
                await conn.execute(
                    text("SELECT id FROM iiko_pushes WHERE link_id = :l AND status = 'landed'"),
                    {"l": link.id},
                )
            )
            .scalars()
            .all()
        )
        return list(events), list(landed)

    events, landed = await run_in_transaction(engine, rows)
    pushes = [t for t in fake.transactions if t.comment.startswith("kopilka:push:")]
    till = [t.id for t in fake.transactions if not t.comment.startswith("kopilka:push:")]
    assert sorted(events) == sorted(till)  # each till transaction posted once
    written = [t.comment for t in pushes]
    assert len(written) == len(set(written))  # no push written twice
    assert sorted(int(c.rsplit(":", 1)[1]) for c in written) == sorted(landed)
