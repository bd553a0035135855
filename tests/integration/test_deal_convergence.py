"""Level-triggered reconciliation converges (DESIGN D4).

Whatever order, repetition or subset of a deal's states the sync sees — duplicated events,
reordered events, missed ones — once it settles the deal's latest state, the customers' balances
are exactly what settling that state once, on a fresh ledger, gives. Nothing is doubled or lost.

Both comparisons run the same code twice, so each test also holds the ledger to an absolute
oracle: the balances the program's engine (pure, no ledger) says the final state is worth.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import NullPool

from kopilka.db.engine import create_engine
from kopilka.db.tables import ledger_transactions
from kopilka.domain.deal import Contact, CustomerHistory, Deal
from kopilka.domain.engine import evaluate_deal
from kopilka.ledger.accrual import accrue
from kopilka.ledger.book import ensure_book
from kopilka.ledger.deals import DealToSettle, settle_deal, settle_plain_deals
from kopilka.ledger.invariants import check_invariants
from kopilka.ledger.queries import balance
from kopilka.program import load_program
from tests.conftest import TEMPLATE, create_database, drop_database
from tests.factories import T0, create_book, create_customer, ref

RUB = 100
PROGRAM = load_program(Path(__file__).parents[2] / "examples" / "retail-wholesale.yaml")
ANNA = Contact(1, type_id="CLIENT", is_primary=True)
BORIS = Contact(2, type_id="1")
START = 2000 * RUB  # each contact's points from older deals, before this one

deal_states = st.builds(
    lambda stage, amount, pay, both: Deal(
        7,
        0,
        stage,
        amount * 1000 * RUB,
        (ANNA, BORIS) if both else (ANNA,),
        points_to_pay=pay * 500 * RUB,
    ),
    st.sampled_from(["process", "won", "lost"]),
    st.integers(min_value=1, max_value=20),
    st.integers(min_value=0, max_value=6),
    st.booleans(),
)


@pytest.fixture(scope="module")
def convergence_db(template_url: str, pg_server: str) -> Iterator[str]:
    name = f"kopilka_conv_{uuid.uuid4().hex[:8]}"
    yield create_database(pg_server, name, TEMPLATE)
    drop_database(pg_server, name)


async def _balances(seen: list[Deal], url: str, *, bulk: bool = False) -> tuple[object, ...]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as db:
            trans = await db.begin()
            await db.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
            try:
                return await _settle_all(db, seen, bulk=bulk)
            finally:
                await trans.rollback()
    finally:
        await engine.dispose()


async def _settle_all(
    db: AsyncConnection, seen: list[Deal], *, bulk: bool = False
) -> tuple[object, ...]:
    bare = await create_book(db, code=PROGRAM.program)
    book = await ensure_book(
        db,
        bare.portal_id,
        code=PROGRAM.program,
        title="t",
        timezone=PROGRAM.timezone,
        program_hash=PROGRAM.hash,
        source_name="x",
        source="x",
    )
    customers = {
        c.id: await create_customer(db, book, external_id=str(c.id)) for c in (ANNA, BORIS)
    }
    for contact_id in customers.values():  # both start with 2 000 points from older deals
        await accrue(
            db,
            book,
            customer_id=contact_id,
            amount=START,
            key=ref(),
            reason="earlier",
            actor="t",
            now=T0,
        )
    for state in seen:
        if bulk:  # as the sync does: many at once when only accruals are due, else one by one
            done = await settle_plain_deals(
                db, book, PROGRAM, [DealToSettle(state, customers, {})], now=T0
            )
            if state.id in done:
                continue
        await settle_deal(db, book, PROGRAM, state, customers=customers, now=T0)
    assert await check_invariants(db) == []
    result: list[object] = []
    for contact_id in customers.values():
        b = await balance(db, book, contact_id, T0)
        result += [b.available, b.held]
    keys = await db.scalars(  # the same entries under the same keys, whichever path posted
        select(ledger_transactions.c.idempotency_key)
        .where(ledger_transactions.c.reference == "deal:7")
        .order_by(ledger_transactions.c.id)
    )
    return (*result, list(keys))


def _expected(final: Deal) -> tuple[int, ...]:
    """(available, held) of Anna, then Boris, as the engine values the deal's final state: won
    — its accruals earned and its payment with points taken; open — the payment held; lost —
    nothing. Computed from the program alone, with the balances the contacts start with."""
    histories = {c.id: CustomerHistory(available_points=START) for c in (ANNA, BORIS)}
    effects = evaluate_deal(PROGRAM, final, histories, T0)
    available = {ANNA.id: START, BORIS.id: START}
    held = {ANNA.id: 0, BORIS.id: 0}
    pay = effects.redemption
    if pay is not None and pay.amount > 0 and final.stage != "lost":
        available[pay.contact_id] -= pay.amount
        if final.stage == "process":
            held[pay.contact_id] += pay.amount
    if final.stage == "won":
        for accrual in effects.accruals:
            assert accrual.available_at <= T0, "the program has no pending days"
            available[accrual.contact_id] += accrual.amount
    return (available[ANNA.id], held[ANNA.id], available[BORIS.id], held[BORIS.id])


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=st.lists(deal_states, min_size=1, max_size=8), data=st.data())
def test_any_event_history_converges_to_settling_the_last_state_once(
    history: list[Deal], data: st.DataObject, convergence_db: str
) -> None:
    final = history[-1]
    # What the sync saw: the history with duplicates and gaps, reordered, but it always ends
    # by reading the deal's current state (the sweep guarantees that it eventually does).
    seen = [*data.draw(st.lists(st.sampled_from(history), max_size=10)), final]
    got = asyncio.run(_balances(seen, convergence_db))
    once = asyncio.run(_balances([final], convergence_db))
    assert got[:4] == once[:4] == _expected(final)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seen=st.lists(deal_states, min_size=1, max_size=8))
def test_settling_in_bulk_posts_what_settling_deal_by_deal_posts(
    seen: list[Deal], convergence_db: str
) -> None:
    """The sync settles plain deals (only accruals due) many at once and the others one by one;
    any history gives the same balances and the same ledger entries, key for key, as settling
    every state one by one."""
    bulk = asyncio.run(_balances(seen, convergence_db, bulk=True))
    assert bulk == asyncio.run(_balances(seen, convergence_db))
    assert bulk[:4] == _expected(seen[-1])
