"""Property-based tests: random sequences of ledger commands keep the books right.

Each example runs a random program of accruals (some pending, some expiring), redemptions,
holds, captures, releases, reversals, time passing, expiry runs, hold expiry and replays of
earlier commands, inside one rolled-back transaction. A plain-Python model of the book
(book_model.py) runs beside it and decides each command's fate: a command the model can book must
succeed, one it refuses must be refused with the same error and write nothing. After every step
each customer's figures, every lot, every hold and the issued/redeemed/expired sums equal the
model's, and the ledger's own invariant checks hold; a replay returned the original and changed
nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import NullPool

from kopilka.db.engine import create_engine
from kopilka.ledger.accrual import accrue
from kopilka.ledger.expiry import due_accounts, expire_account
from kopilka.ledger.invariants import check_invariants
from kopilka.ledger.queries import balance
from kopilka.ledger.reversal import reverse
from kopilka.ledger.spending import capture_hold, expire_holds, place_hold, redeem, release_hold
from kopilka.ledger.types import Book
from tests.conftest import TEMPLATE, create_database, drop_database
from tests.factories import T0, create_book, create_customer
from tests.integration.ledger.book_model import BookModel, Refused, Tx

CUSTOMERS = 2
amounts = st.integers(min_value=1, max_value=50).map(lambda n: n * 100)
who = st.integers(min_value=0, max_value=CUSTOMERS - 1)
pick = st.integers(min_value=0, max_value=1_000)

earn = st.tuples(
    st.just("accrue"),
    who,
    amounts,
    st.sampled_from([0, 3]),
    st.sampled_from([None, None, 2, 10]),
)
# Accruals weigh double and programs are not too short: most examples then spend from several
# lots of one customer, where the order of spending, holds and reversals shows.
ops = st.one_of(
    earn,
    earn,
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


async def _compare(
    db: AsyncConnection, book: Book, model: BookModel, customers: list[int], now: datetime
) -> None:
    """The real books equal the model's: every customer's figures, every lot, every hold and
    what went to the issuer, to redeemed and to expired."""
    for i, c in enumerate(customers):
        bal = await balance(db, book, c, now)
        assert (bal.total, bal.available, bal.pending, bal.held) == model.figures(i, now)
    lots = [int(r) for r in await db.scalars(text("SELECT remaining FROM lots ORDER BY id"))]
    assert lots == [lot.remaining for lot in model.lots]
    holds = {
        int(r.id): (r.status, int(r.captured))
        for r in await db.execute(text("SELECT id, status, captured FROM holds"))
    }
    assert holds == {h: (m.status, m.captured) for h, m in model.holds.items()}
    sums = {
        r.kind: int(r.total)
        for r in await db.execute(
            text(
                "SELECT a.kind, SUM(e.amount) AS total FROM ledger_entries e "
                "JOIN accounts a ON a.id = e.account_id GROUP BY a.kind"
            )
        )
    }
    assert (-sums.get("issued", 0), sums.get("redeemed", 0), sums.get("expired", 0)) == (
        model.issued,
        model.redeemed,
        model.expired,
    )


async def _run(db: AsyncConnection, program: list[tuple[Any, ...]]) -> None:
    book = await create_book(db)
    customers = [await create_customer(db, book) for _ in range(CUSTOMERS)]
    model = BookModel()
    now = T0
    done: list[Done] = []
    holds: list[int] = []
    txs: list[int] = []
    for step, op in enumerate(program):
        key = f"step-{step}"
        kind = op[0]
        call: Callable[[], Awaitable[Any]] | None = None
        expect: Callable[[], Any] | None = None  # books the step in the model, or raises Refused
        at = now
        if kind == "accrue":
            _, i, amount, pending, expires = op
            available_at = at + timedelta(days=pending)
            expires_at = available_at + timedelta(days=expires) if expires else None
            call = lambda i=i, amount=amount, a=available_at, e=expires_at, k=key, at=at: accrue(  # noqa: E731
                db,
                book,
                customer_id=customers[i],
                amount=amount,
                key=k,
                reason="r",
                actor="t",
                now=at,
                available_at=a,
                expires_at=e,
            )
            expect = lambda i=i, amount=amount, a=available_at, e=expires_at: Tx(  # noqa: E731
                "accrual", lot=model.accrue(i, amount, a, e), amount=amount
            )
        elif kind == "redeem":
            _, i, amount = op
            call = lambda i=i, amount=amount, k=key, at=at: redeem(  # noqa: E731
                db,
                book,
                customer_id=customers[i],
                amount=amount,
                key=k,
                reason="r",
                actor="t",
                now=at,
            )
            expect = lambda i=i, amount=amount, at=at: model.redeem(i, amount, at)  # noqa: E731
        elif kind == "hold":
            _, i, amount, ttl = op
            call = lambda i=i, amount=amount, k=key, at=at, ttl=ttl: place_hold(  # noqa: E731
                db,
                book,
                customer_id=customers[i],
                amount=amount,
                key=k,
                reason="r",
                actor="t",
                now=at,
                expires_at=at + timedelta(days=ttl),
            )
            expect = lambda i=i, amount=amount, at=at, ttl=ttl: model.place_hold(  # noqa: E731
                i, amount, at, at + timedelta(days=ttl)
            )
        elif kind in ("capture", "release") and holds:
            hold_id = holds[op[1] % len(holds)]
            if kind == "capture":
                part = op[2]
                amount = None if part is None else max(1, int(model.holds[hold_id].amount * part))
                call = lambda h=hold_id, k=key, at=at, amount=amount: capture_hold(  # noqa: E731
                    db, book, hold_id=h, key=k, actor="t", now=at, amount=amount
                )
                expect = lambda h=hold_id, amount=amount: model.capture(h, amount)  # noqa: E731
            else:
                call = lambda h=hold_id, k=key, at=at: release_hold(  # noqa: E731
                    db, book, hold_id=h, key=k, actor="t", now=at
                )
                expect = lambda h=hold_id: model.release(h)  # noqa: E731
        elif kind == "reverse" and txs:
            tx = txs[op[1] % len(txs)]
            call = lambda tx=tx, k=key, at=at: reverse(  # noqa: E731
                db, book, transaction_id=tx, key=k, reason="r", actor="t", now=at
            )
            expect = lambda tx=tx, at=at: model.reverse(tx, at)  # noqa: E731
        elif kind == "advance":
            now += timedelta(days=op[1])
        elif kind == "expire":
            due = await due_accounts(db, book, now)
            owners = [
                customers.index(int(c))
                for c in await db.scalars(
                    text("SELECT customer_id FROM accounts WHERE id = ANY(:ids) ORDER BY id"),
                    {"ids": due},
                )
            ]
            assert set(owners) == model.due_customers(now)
            for account, i in zip(due, owners, strict=True):
                posted = await expire_account(db, book, account, now=now)
                expected = model.expire(i, now)
                assert len(posted) == len(expected), "one expiry per expiry instant"
                for p, booked in zip(posted, expected, strict=True):
                    assert p.replayed == (booked is None)
                    if booked is not None:
                        model.txs[p.id] = booked
                    txs.append(p.id)
        elif kind == "expire_holds":
            due_holds = model.due_holds(now)
            released = await expire_holds(db, book, now=now)
            assert [p.hold_id for p in released] == due_holds
            for h, p in zip(due_holds, released, strict=True):
                model.txs[p.id] = model.release(h, status="expired")
        elif kind == "replay" and done:
            earlier = done[op[1] % len(done)]
            before = await _snapshot(db)
            again = await earlier.call()
            assert again.replayed, "a replay must return the stored result"
            assert again.id == earlier.result_id
            assert await _snapshot(db) == before, "a replay must change nothing"

        if call is not None:
            assert expect is not None
            before = await _snapshot(db)
            sp = await db.begin_nested()
            try:
                booked = expect()
            except Refused as verdict:
                with pytest.raises(verdict.expected):
                    await call()
                await sp.rollback()
                assert await _snapshot(db) == before, "a refused command must write nothing"
            else:
                result = await call()  # a command the model books must succeed
                await sp.commit()
                assert not result.replayed
                done.append(Done(call, result.id))
                if kind == "hold":
                    model.holds[result.id] = booked
                    holds.append(result.id)
                else:
                    model.txs[result.id] = booked
                    txs.append(result.id)

        assert await check_invariants(db) == []
        await _compare(db, book, model, customers, now)


@pytest.fixture(scope="module")
def property_db(template_url: str, pg_server: str) -> Iterator[str]:
    """A database of its own: each example runs in a transaction that is rolled back."""
    name = f"kopilka_prop_{uuid.uuid4().hex[:8]}"
    yield create_database(pg_server, name, TEMPLATE)
    drop_database(pg_server, name)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(program=st.lists(ops, min_size=5, max_size=30))
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
