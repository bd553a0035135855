"""Concurrent spending on one account, with real commits on real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.db.engine import run_in_transaction
from kopilka.domain.errors import InsufficientPoints
from kopilka.ledger.accrual import accrue
from kopilka.ledger.invariants import check_invariants
from kopilka.ledger.queries import balance
from kopilka.ledger.spending import capture_hold, place_hold, redeem
from kopilka.ledger.types import Book, HoldView, Posted
from tests.factories import T0, create_book, create_customer, ref

RUB = 100


async def funded_customer(engine: AsyncEngine, amount: int) -> tuple[Book, int]:
    """A committed book and a customer holding ``amount`` points."""

    async def setup(conn: AsyncConnection) -> tuple[Book, int]:
        book = await create_book(conn)
        customer = await create_customer(conn, book)
        await accrue(
            conn,
            book,
            customer_id=customer,
            amount=amount,
            key=ref(),
            reason="seed",
            actor="test",
            now=T0,
        )
        return book, customer

    return await run_in_transaction(engine, setup)


async def test_twenty_concurrent_redemptions_never_overdraw(committed_engine: AsyncEngine) -> None:
    book, customer = await funded_customer(committed_engine, 1000 * RUB)
    # 20 cash desks at once ask for 10 × 70 ₽ and 10 × 90 ₽ = 1 600 ₽ from a 1 000 ₽ balance.
    amounts = [70 * RUB] * 10 + [90 * RUB] * 10

    async def spend(amount: int) -> Posted | InsufficientPoints:
        try:
            return await run_in_transaction(
                committed_engine,
                lambda conn: redeem(
                    conn,
                    book,
                    customer_id=customer,
                    amount=amount,
                    key=ref("pos"),
                    reason="order",
                    actor="pos",
                    now=T0,
                ),
            )
        except InsufficientPoints as exc:
            return exc

    results = await asyncio.gather(*(spend(a) for a in amounts))
    spent = sum(-r.net_for(r.legs[0].account_id) for r in results if isinstance(r, Posted))
    refused = [r for r in results if isinstance(r, InsufficientPoints)]

    async def read(conn: AsyncConnection) -> int:
        return (await balance(conn, book, customer, T0)).available

    left = await run_in_transaction(committed_engine, read)
    assert spent + left == 1000 * RUB
    assert left >= 0
    # Exactly the affordable ones succeeded: whatever is left cannot pay the smallest request.
    assert left < 70 * RUB
    assert refused, "some of the 1 600 ₽ of requests must have been refused"
    assert all("available" in str(r) for r in refused)
    # Each success took exactly what it asked, and each is one stored redemption.
    granted = [a for a, r in zip(amounts, results, strict=True) if isinstance(r, Posted)]
    assert spent == sum(granted)

    async def stored(conn: AsyncConnection) -> int:
        return int(
            await conn.scalar(
                text(
                    "SELECT count(*) FROM ledger_transactions"
                    " WHERE program_id = :p AND kind = 'redemption'"
                ),
                {"p": book.program_id},
            )
            or 0
        )

    assert await run_in_transaction(committed_engine, stored) == len(granted) == 20 - len(refused)

    async def invariants(conn: AsyncConnection) -> list[object]:
        return list(await check_invariants(conn))

    assert await run_in_transaction(committed_engine, invariants) == []


async def test_concurrent_replays_of_one_key_post_once(committed_engine: AsyncEngine) -> None:
    async def setup(conn: AsyncConnection) -> tuple[Book, int]:
        book = await create_book(conn)
        return book, await create_customer(conn, book)

    book, customer = await run_in_transaction(committed_engine, setup)
    key = ref("same")

    async def earn() -> Posted:
        return await run_in_transaction(
            committed_engine,
            lambda conn: accrue(
                conn,
                book,
                customer_id=customer,
                amount=500 * RUB,
                key=key,
                reason="deal won",
                actor="sync",
                now=T0,
            ),
        )

    results = await asyncio.gather(*(earn() for _ in range(8)))
    assert len({r.id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1

    async def read(conn: AsyncConnection) -> int:
        return (await balance(conn, book, customer, T0)).total

    assert await run_in_transaction(committed_engine, read) == 500 * RUB


async def test_concurrent_twins_of_a_hold_and_its_capture_act_once(
    committed_engine: AsyncEngine,
) -> None:
    book, customer = await funded_customer(committed_engine, 1000 * RUB)
    hold_key, capture_key = ref("hold"), ref("capture")

    async def hold() -> HoldView:
        return await run_in_transaction(
            committed_engine,
            lambda conn: place_hold(
                conn,
                book,
                customer_id=customer,
                amount=300 * RUB,
                key=hold_key,
                reason="deal",
                actor="sync",
                now=T0,
                expires_at=T0 + timedelta(days=1),
            ),
        )

    holds = await asyncio.gather(*(hold() for _ in range(6)))
    assert len({h.id for h in holds}) == 1

    async def capture() -> Posted:
        return await run_in_transaction(
            committed_engine,
            lambda conn: capture_hold(
                conn, book, hold_id=holds[0].id, key=capture_key, actor="sync", now=T0
            ),
        )

    captures = await asyncio.gather(*(capture() for _ in range(6)))
    assert len({c.id for c in captures}) == 1

    async def check(conn: AsyncConnection) -> tuple[int, list[object]]:
        return (
            (await balance(conn, book, customer, T0)).available,
            list(await check_invariants(conn)),
        )

    assert await run_in_transaction(committed_engine, check) == (700 * RUB, [])
