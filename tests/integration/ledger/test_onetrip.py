"""One command, one round trip: ``ledger.onetrip`` on autocommit connections, with commits.

The statement is the one every accrual and redemption runs (``ledger.server``); these tests
hold it to what the Python path guaranteed: replays, conflicts, unknown customers, the
soonest-expiring lots first exactly as ``domain.allocation.allocate`` chooses them, and no
overdraw under concurrent spends.
"""

from __future__ import annotations

import asyncio
import random
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.db.engine import conninfo, run_in_transaction
from kopilka.db.tables import ledger_transactions
from kopilka.domain.allocation import allocate
from kopilka.domain.errors import IdempotencyConflict, InsufficientPoints, UnknownCustomer
from kopilka.ledger import book as books
from kopilka.ledger import onetrip
from kopilka.ledger.accrual import AccrualRequest
from kopilka.ledger.invariants import check_invariants
from kopilka.ledger.lots import open_lots
from kopilka.ledger.queries import balance
from kopilka.ledger.spending import RedemptionRequest
from kopilka.ledger.types import Book
from tests.factories import T0, create_book, create_customer, ref


async def book_and_customer(engine: AsyncEngine) -> tuple[Book, int]:
    async def setup(conn: AsyncConnection) -> tuple[Book, int]:
        book = await create_book(conn)
        return book, await create_customer(conn, book)

    return await run_in_transaction(engine, setup)


def url_of(engine: AsyncEngine) -> str:
    return conninfo(engine.url.render_as_string(hide_password=False))


async def count_transactions(engine: AsyncEngine, book: Book) -> int:
    async with engine.connect() as conn:
        found = await conn.scalar(
            select(func.count()).where(ledger_transactions.c.portal_id == book.portal_id)
        )
    return int(found or 0)


async def test_an_accrual_replays_conflicts_and_refuses_unknown_customers(
    committed_engine: AsyncEngine,
) -> None:
    book, customer = await book_and_customer(committed_engine)
    key = ref("till")
    async with await onetrip.connect(url_of(committed_engine)) as conn:
        posted = await onetrip.accrue(
            conn, book, AccrualRequest(customer, 500, key, "purchase", "till", T0)
        )
        again = await onetrip.accrue(
            conn, book, AccrualRequest(customer, 500, key, "purchase", "till", T0)
        )
        with pytest.raises(IdempotencyConflict, match="already used for a different accrual"):
            await onetrip.accrue(
                conn, book, AccrualRequest(customer, 700, key, "purchase", "till", T0)
            )
        with pytest.raises(UnknownCustomer, match="no customer #999999"):
            await onetrip.accrue(
                conn, book, AccrualRequest(999_999, 5, ref(), "purchase", "till", T0)
            )
    assert not posted.replayed
    assert again.replayed
    assert again.id == posted.id
    assert [(leg.account_kind, leg.amount) for leg in posted.legs] == [
        ("issued", -500),
        ("customer", 500),
    ]
    assert posted.legs == again.legs
    assert posted.legs[1].lot_id is not None
    assert await count_transactions(committed_engine, book) == 1
    async with committed_engine.connect() as conn:
        assert (await balance(conn, book, customer, T0)).total == 500
        assert await check_invariants(conn) == []


async def test_a_redemption_takes_the_lots_allocate_would_take(
    committed_engine: AsyncEngine,
) -> None:
    rng = random.Random(21)
    book, customer = await book_and_customer(committed_engine)
    async with await onetrip.connect(url_of(committed_engine)) as conn:
        for _ in range(12):  # lots available now or later, expiring soon, late or never
            await onetrip.accrue(
                conn,
                book,
                AccrualRequest(
                    customer,
                    rng.randint(1, 400),
                    ref(),
                    "purchase",
                    "till",
                    T0 - timedelta(days=30),
                    available_at=T0 + timedelta(days=rng.choice([-20, -10, -1, 3])),
                    expires_at=rng.choice([None, T0 + timedelta(days=rng.randint(1, 90))]),
                ),
            )
        for step in range(8):
            now = T0 + timedelta(days=step * 5)
            async with committed_engine.connect() as read:
                lots = await open_lots(
                    read, (await books.account(read, book, "customer", customer)).id
                )
            wanted = rng.randint(1, 500)
            request = RedemptionRequest(customer, wanted, ref(), "order", "till", now)
            try:
                expected = allocate(lots, wanted, now)
            except InsufficientPoints as short:
                with pytest.raises(InsufficientPoints, match=f"^{re.escape(str(short))}$"):
                    await onetrip.redeem(conn, book, request)
                continue
            posted = await onetrip.redeem(conn, book, request)
            taken = [
                (leg.lot_id, -leg.amount) for leg in posted.legs if leg.account_kind == "customer"
            ]
            assert taken == expected
    async with committed_engine.connect() as read:
        assert await check_invariants(read) == []


async def test_concurrent_single_redemptions_never_overdraw(committed_engine: AsyncEngine) -> None:
    book, customer = await book_and_customer(committed_engine)
    url = url_of(committed_engine)
    async with await onetrip.connect(url) as conn:
        await onetrip.accrue(conn, book, AccrualRequest(customer, 1000, ref(), "seed", "t", T0))
    conns = [await onetrip.connect(url) for _ in range(8)]

    async def spend(conn: onetrip.Connection, amount: int) -> int:
        request = RedemptionRequest(customer, amount, ref("pos"), "order", "pos", T0)
        try:
            posted = await onetrip.redeem(conn, book, request)
        except InsufficientPoints:
            return 0
        return sum(-leg.amount for leg in posted.legs if leg.account_kind == "customer")

    try:
        spent = await asyncio.gather(
            *(spend(conns[i % 8], a) for i, a in enumerate([70] * 10 + [90] * 10))
        )
    finally:
        for c in conns:
            await c.close()
    async with committed_engine.connect() as read:
        left = (await balance(read, book, customer, T0)).total
        assert await check_invariants(read) == []
    assert sum(spent) + left == 1000
    assert left < 70
