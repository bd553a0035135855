"""A person's own limit on manual grants (R-11 "who may grant how much"), enforced in the ledger:
counted across customers and reasons, reversed grants excluded, and race-free — two grants by
the same person at once cannot both slip under it."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import ledger_transactions
from kopilka.domain.manual import Granter, GranterLimit, ManualGrantRefused
from kopilka.ledger.accrual import accrue
from kopilka.ledger.grants import grant
from kopilka.ledger.reversal import reverse
from kopilka.ledger.types import Book, Posted
from kopilka.process.devstack import example
from kopilka.program.loader import load_program
from kopilka.program.model import Program
from kopilka.program.policies import GrantPeriod
from tests.factories import T0, create_book, create_customer, ref

pytestmark = pytest.mark.timeout(60)
PTS = 100
MONTH = GrantPeriod(kind="month")
WAITING = text(
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE wait_event_type = 'Lock' AND datname = current_database()"
)


def maria(max_total: int) -> Granter:
    return Granter("b24:user:2", GranterLimit(max_total * PTS, MONTH, "role:manager"))


def program() -> Program:
    """The travel club's: an apology up to 3 000 per grant, 10 000 a month per contact."""
    return load_program(example("travel-club.yaml")[0])


async def give(
    conn: AsyncConnection, book: Book, prog: Program, customer: int, points: int, who: Granter
) -> Posted:
    return await grant(
        conn,
        book,
        prog,
        customer_id=customer,
        reason="apology",
        amount=points * PTS,
        actor="b24:user:2 Мария Соколова",
        key=ref("g"),
        now=T0,
        comment="задержка заказа",
        granter=who,
    )


async def setup(engine: AsyncEngine) -> tuple[Book, int, int]:
    """A book with two customers whose accounts exist already (a first grant creating them
    would serialise on their creation, hiding the race the granter's lock is there for)."""

    async def unit(conn: AsyncConnection) -> tuple[Book, int, int]:
        book = await create_book(conn)
        pair = await create_customer(conn, book), await create_customer(conn, book)
        for customer in pair:
            await accrue(
                conn, book, customer_id=customer, amount=PTS, key=ref(), reason="seed",
                actor="test", now=T0,
            )  # fmt: skip
        return book, *pair

    return await run_in_transaction(engine, unit)


async def test_the_limit_counts_every_customer_and_reason_and_not_reversed_grants(
    committed_engine: AsyncEngine,
) -> None:
    book, anna, boris = await setup(committed_engine)
    prog = program()

    async def first(conn: AsyncConnection) -> Posted:
        return await give(conn, book, prog, anna, 600, maria(1000))

    posted = await run_in_transaction(committed_engine, first)
    assert posted.rule_inputs["granter"] == "b24:user:2"
    assert posted.rule_inputs["granter_limit"]["applied"] == "role:manager"
    assert posted.rule_inputs["granter_limit"]["granted_before"] == 0

    async def second(conn: AsyncConnection) -> Posted:
        return await give(conn, book, prog, boris, 500, maria(1000))

    with pytest.raises(ManualGrantRefused) as refused:  # 600 + 500 > 1 000, to another contact
        await run_in_transaction(committed_engine, second)
    assert refused.value.rule == "quota"
    assert refused.value.left == 400 * PTS
    # Another person's grants do not count against Мария.
    other = Granter("b24:user:3", GranterLimit(1000 * PTS, MONTH, "role:manager"))

    async def olga(conn: AsyncConnection) -> Posted:
        return await give(conn, book, prog, boris, 900, other)

    await run_in_transaction(committed_engine, olga)

    async def undo(conn: AsyncConnection) -> None:
        await reverse(
            conn, book, transaction_id=posted.id, key=ref("r"), reason="ошибка", actor="t", now=T0
        )

    await run_in_transaction(committed_engine, undo)  # a reversed grant no longer counts
    again = await run_in_transaction(committed_engine, second)
    assert again.rule_inputs["granter_limit"]["granted_before"] == 0


async def test_two_grants_of_one_person_at_once_cannot_both_slip_under_the_limit(
    committed_engine: AsyncEngine,
) -> None:
    book, anna, boris = await setup(committed_engine)
    prog = program()
    # The first grant is posted and its transaction kept open…
    async with committed_engine.connect() as first:
        await first.begin()
        await give(first, book, prog, anna, 600, maria(1000))

        async def rival(conn: AsyncConnection) -> Posted:
            return await give(conn, book, prog, boris, 600, maria(1000))

        # …while the same person grants to another contact from a second tab.
        second = asyncio.ensure_future(run_in_transaction(committed_engine, rival))
        async with committed_engine.connect() as watch:
            for _ in range(400):  # until the rival waits on the lock (or, unlocked, is done)
                waiting = await watch.scalar(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                    )
                )
                await watch.rollback()
                if waiting or second.done():
                    break
                await asyncio.sleep(0.05)
        await first.commit()
    with pytest.raises(ManualGrantRefused) as refused:
        await second
    assert refused.value.rule == "quota"
    assert refused.value.left == 400 * PTS
    async with committed_engine.connect() as conn:
        grants = await conn.scalar(
            select(func.count()).where(
                ledger_transactions.c.portal_id == book.portal_id,
                ledger_transactions.c.rule_id == "manual:apology",
            )
        )
    assert grants == 1
