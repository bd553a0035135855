"""The database itself refuses what would corrupt the ledger, even from hand-written SQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.ledger.accrual import accrue
from kopilka.ledger.book import account
from kopilka.ledger.invariants import check_invariants
from kopilka.ledger.reversal import reverse
from kopilka.ledger.types import Book, Posted
from tests.factories import T0, create_book, create_customer, ref


async def _earned(db: AsyncConnection) -> tuple[Book, int, Posted]:
    book = await create_book(db)
    customer = await create_customer(db, book)
    posted = await accrue(
        db,
        book,
        customer_id=customer,
        amount=10_000,
        key=ref(),
        reason="deal won",
        actor="test",
        now=T0,
    )
    return book, customer, posted


@asynccontextmanager
async def savepoint(db: AsyncConnection) -> AsyncIterator[None]:
    """Run a block in a savepoint that is always rolled back (the block is meant to fail)."""
    sp = await db.begin_nested()
    try:
        yield
    finally:
        await sp.rollback()


async def _refused(db: AsyncConnection, sql: str, match: str, **params: object) -> None:
    async with savepoint(db):
        with pytest.raises(DBAPIError, match=match):
            await db.execute(text(sql), params)


async def test_posted_rows_cannot_be_updated_or_deleted(db: AsyncConnection) -> None:
    _, _, posted = await _earned(db)
    await _refused(db, "UPDATE ledger_entries SET amount = amount * 2", "immutable")
    await _refused(db, "DELETE FROM ledger_entries", "immutable")
    await _refused(
        db, "UPDATE ledger_transactions SET reason = 'x' WHERE id = :id", "immutable", id=posted.id
    )
    await _refused(db, "DELETE FROM ledger_transactions", "immutable")
    await _refused(db, "TRUNCATE ledger_entries CASCADE", "immutable")


async def _new_tx(db: AsyncConnection, book: Book, kind: str = "redemption") -> int:
    return int(
        await db.scalar(
            text(
                "INSERT INTO ledger_transactions (portal_id, program_id, kind, idempotency_key,"
                " input_hash, reason, actor, effective_at)"
                " VALUES (:p, :g, :k, :key, 'h', 'manual sql', 'dba', now()) RETURNING id"
            ),
            {"p": book.portal_id, "g": book.program_id, "k": kind, "key": ref()},
        )
    )


async def _spend_by_hand(db: AsyncConnection, taken: int, given: int, refusal: str) -> None:
    """Hand-written SQL moving ``taken`` out of a customer's lot and ``given`` into redeemed."""
    book, customer, posted = await _earned(db)
    cust = (await account(db, book, "customer", customer)).id
    redeemed = (await account(db, book, "redeemed")).id
    async with savepoint(db):
        tx = await _new_tx(db, book)
        with pytest.raises(DBAPIError, match=refusal):
            await db.execute(
                text(
                    "INSERT INTO ledger_entries (transaction_id, account_id, lot_id, amount)"
                    " VALUES (:t, :c, :l, :taken), (:t, :r, :l, :given)"
                ),
                {
                    "t": tx,
                    "c": cust,
                    "r": redeemed,
                    "l": posted.legs[1].lot_id,
                    "taken": -taken,
                    "given": given,
                },
            )


async def test_a_transaction_that_does_not_net_to_zero_is_refused(db: AsyncConnection) -> None:
    await _spend_by_hand(db, 100, 90, "does not net to zero")


async def test_overdrawing_an_account_or_a_lot_is_refused(db: AsyncConnection) -> None:
    # The customer has 10 000 kopecks in that lot.
    await _spend_by_hand(db, 10_001, 10_001, r"account_not_overdrawn|lot_remaining_bounded")


async def test_customer_points_always_sit_in_a_lot(db: AsyncConnection) -> None:
    book, customer, _ = await _earned(db)
    cust = (await account(db, book, "customer", customer)).id
    issued = (await account(db, book, "issued")).id
    async with savepoint(db):
        tx = await _new_tx(db, book, "accrual")
        with pytest.raises(DBAPIError, match="names no lot"):
            await db.execute(
                text(
                    "INSERT INTO ledger_entries (transaction_id, account_id, amount)"
                    " VALUES (:t, :i, -5), (:t, :c, 5)"
                ),
                {"t": tx, "c": cust, "i": issued},
            )


async def test_an_entry_is_reversed_at_most_once(db: AsyncConnection) -> None:
    book, _, posted = await _earned(db)
    first = await reverse(
        db, book, transaction_id=posted.id, key=ref(), reason="undo", actor="test", now=T0
    )
    await _refused(
        db,
        "INSERT INTO ledger_transactions (portal_id, program_id, kind, idempotency_key,"
        " input_hash, reason, actor, effective_at, reverses_id)"
        " VALUES (:p, :g, 'reversal', :key, 'h', 'again', 'dba', now(), :rev)",
        "reverses_id",
        p=book.portal_id,
        g=book.program_id,
        key=ref(),
        rev=posted.id,
    )
    assert first.reverses_id == posted.id


async def test_the_invariant_checks_catch_what_bypasses_the_triggers(db: AsyncConnection) -> None:
    """With triggers off (replication mode: what a careless restore could do), a lopsided entry
    gets in; the scheduled checks are there to catch exactly that."""
    book, customer, posted = await _earned(db)
    assert await check_invariants(db) == []
    cust = (await account(db, book, "customer", customer)).id
    await db.execute(text("SET LOCAL session_replication_role = replica"))
    await db.execute(
        text(
            "INSERT INTO ledger_entries (transaction_id, account_id, lot_id, amount)"
            " VALUES (:t, :c, :l, 700)"
        ),
        {"t": posted.id, "c": cust, "l": posted.legs[1].lot_id},
    )
    await db.execute(text("SET LOCAL session_replication_role = origin"))
    broken = {v.check for v in await check_invariants(db)}
    assert {
        "every transaction nets to zero",
        "customer and held balance caches equal the sum of their entries",
        "lot remainder equals the entries on its own account",
        "issued = redeemed + expired + held + outstanding (per program)",
    } <= broken
