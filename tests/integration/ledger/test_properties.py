"""Property-based tests: random sequences of ledger commands keep the books right.

Each example runs a random program of accruals (some pending, some expiring), redemptions,
holds, captures, releases, reversals, time passing, expiry runs, hold expiry and replays of
earlier commands, inside one rolled-back transaction. After every step: no balance below zero,
issued = redeemed + expired + outstanding, every cache agrees with the entries; a failed command
wrote nothing; a replay returned the original and changed nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import NullPool

from kopilka.db.engine import create_engine
from kopilka.domain.errors import Conflict, InsufficientPoints, InvalidAmount
from kopilka.ledger.accrual import accrue
from kopilka.ledger.expiry import due_accounts, expire_account
from kopilka.ledger.invariants import check_invariants
from kopilka.ledger.queries import balance
from kopilka.ledger.reversal import reverse
from kopilka.ledger.spending import capture_hold, expire_holds, place_hold, redeem, release_hold
from tests.conftest import TEMPLATE, create_database, drop_database
from tests.factories import T0, create_book, create_customer

CUSTOMERS = 2
amounts = st.integers(min_value=1, max_value=50).map(lambda n: n * 100)
who = st.integers(min_value=0, max_value=CUSTOMERS - 1)
pick = st.integers(min_value=0, max_value=1_000)

ops = st.one_of(
    st.tuples(st.just("accrue"), who, amounts, st.sampled_from([0, 3]),
              st.sampled_from([None, None, 2, 10])),
    st.tuples(st.just("redeem"), who, amounts),
    st.tuples(st.just("hold"), who, amounts, st.sampled_from([1, 5])),
    st.tuples(st.just("capture"), pick, st.sampled_from([None, 0.5])),
    st.tuples(st.just("release"), pick),
    st.tuples(st.just("reverse"), pick),
    st.tuples(st.just("advance"), st.integers(min_value=1, max_value=4)),
    st.tuples(st.just("expire")),
    st.tuples(st.just("expire_holds")),
    st.tuples(st.just("replay"), pick),
)


@dataclass
class Done:
    call: Callable[[], Awaitable[Any]]
    result_id: int


async def _snapshot(db: AsyncConnection) -> list[tuple[int, int]]:
    rows = await db.execute(text("SELECT id, balance FROM accounts ORDER BY id"))
    return [(int(r.id), int(r.balance)) for r in rows]


async def _run(db: AsyncConnection, program: list[tuple[Any, ...]]) -> None:
    book = await create_book(db)
    customers = [await create_customer(db, book) for _ in range(CUSTOMERS)]
    now = T0
    done: list[Done] = []
    holds: list[int] = []
    txs: list[int] = []
    for step, op in enumerate(program):
        key = f"step-{step}"
        kind = op[0]
        call: Callable[[], Awaitable[Any]] | None = None
        at = now
        if kind == "accrue":
            _, i, amount, pending, expires = op
            available_at = at + timedelta(days=pending)
            expires_at = available_at + timedelta(days=expires) if expires else None
            call = lambda i=i, amount=amount, a=available_at, e=expires_at, k=key, at=at: accrue(  # noqa: E731
                db, book, customer_id=customers[i], amount=amount, key=k, reason="r", actor="t",
                now=at, available_at=a, expires_at=e)
        elif kind == "redeem":
            _, i, amount = op
            call = lambda i=i, amount=amount, k=key, at=at: redeem(  # noqa: E731
                db, book, customer_id=customers[i], amount=amount, key=k, reason="r",
                actor="t", now=at)
        elif kind == "hold":
            _, i, amount, ttl = op
            call = lambda i=i, amount=amount, k=key, at=at, ttl=ttl: place_hold(  # noqa: E731
                db, book, customer_id=customers[i], amount=amount, key=k, reason="r",
                actor="t", now=at, expires_at=at + timedelta(days=ttl))
        elif kind in ("capture", "release") and holds:
            hold_id = holds[op[1] % len(holds)]
            if kind == "capture":
                part = op[2]
                call = lambda h=hold_id, k=key, at=at, part=part: _capture(db, book, h, k, at, part)  # noqa: E731
            else:
                call = lambda h=hold_id, k=key, at=at: release_hold(  # noqa: E731
                    db, book, hold_id=h, key=k, actor="t", now=at)
        elif kind == "reverse" and txs:
            tx = txs[op[1] % len(txs)]
            call = lambda tx=tx, k=key, at=at: reverse(  # noqa: E731
                db, book, transaction_id=tx, key=k, reason="r", actor="t", now=at)
        elif kind == "advance":
            now += timedelta(days=op[1])
        elif kind == "expire":
            for account in await due_accounts(db, book, now):
                for posted in await expire_account(db, book, account, now=now):
                    txs.append(posted.id)
        elif kind == "expire_holds":
            await expire_holds(db, book, now=now)
        elif kind == "replay" and done:
            earlier = done[op[1] % len(done)]
            before = await _snapshot(db)
            again = await earlier.call()
            assert again.replayed, "a replay must return the stored result"
            assert again.id == earlier.result_id
            assert await _snapshot(db) == before, "a replay must change nothing"

        if call is not None:
            before = await _snapshot(db)
            spender = customers[op[1]] if kind in ("redeem", "hold") else None
            spendable = (await balance(db, book, spender, now)).available if spender else 0
            sp = await db.begin_nested()
            try:
                result = await call()
            except (Conflict, InvalidAmount) as exc:
                await sp.rollback()
                assert await _snapshot(db) == before, "a refused command must write nothing"
                if isinstance(exc, InsufficientPoints) and spender:
                    assert op[2] > spendable, "refused although the points were there"
            else:
                await sp.commit()
                if spender:
                    after = (await balance(db, book, spender, now)).available
                    assert spendable - after == op[2], "spent a different amount than asked"
                done.append(Done(call, result.id))
                if kind == "hold":
                    holds.append(result.id)
                else:
                    txs.append(result.id)

        assert await check_invariants(db) == []
        for c in customers:
            bal = await balance(db, book, c, now)
            assert min(bal.total, bal.available, bal.pending, bal.held) >= 0


async def _capture(db: AsyncConnection, book: Any, hold_id: int, key: str, at: Any,
                   part: float | None) -> Any:
    amount = None
    if part is not None:
        held = await db.scalar(text("SELECT amount FROM holds WHERE id = :h"), {"h": hold_id})
        amount = max(1, int(held * part))
    return await capture_hold(db, book, hold_id=hold_id, key=key, actor="t", now=at,
                              amount=amount)


@pytest.fixture(scope="module")
def property_db(template_url: str, pg_server: str) -> Iterator[str]:
    """A database of its own: each example runs in a transaction that is rolled back."""
    name = f"kopilka_prop_{uuid.uuid4().hex[:8]}"
    yield create_database(pg_server, name, TEMPLATE)
    drop_database(pg_server, name)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(program=st.lists(ops, min_size=1, max_size=30))
def test_random_command_sequences_keep_the_books_right(
    program: list[tuple[Any, ...]], property_db: str
) -> None:
    # A sync test with its own event loop per example: hypothesis drives the examples.
    asyncio.run(_in_rolled_back_transaction(program, property_db))


async def _in_rolled_back_transaction(program: list[tuple[Any, ...]], url: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            trans = await conn.begin()
            await conn.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
            try:
                await _run(conn, program)
            finally:
                await trans.rollback()
    finally:
        await engine.dispose()
