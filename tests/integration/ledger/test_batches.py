"""Batched postings: the same guarantees as one at a time, in a few statements."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.domain.errors import IdempotencyConflict, InsufficientPoints, InvalidCommand
from kopilka.ledger.accrual import AccrualRequest, accrue_many
from kopilka.ledger.invariants import check_invariants
from kopilka.ledger.queries import balance
from kopilka.ledger.spending import RedemptionRequest, redeem_many
from kopilka.ledger.types import Posted
from tests.factories import T0, create_book, create_customer, ref

RUB = 100


async def test_a_batch_of_accruals_with_replays_posts_each_once(db: AsyncConnection) -> None:
    book = await create_book(db)
    a, b = await create_customer(db, book), await create_customer(db, book)
    keys = [ref() for _ in range(3)]
    first = await accrue_many(
        db,
        book,
        [
            AccrualRequest(a, 100 * RUB, keys[0], "r", "t", T0),
            AccrualRequest(b, 200 * RUB, keys[1], "r", "t", T0),
        ],
    )
    again = await accrue_many(
        db,
        book,
        [
            AccrualRequest(b, 200 * RUB, keys[1], "r", "t", T0),  # a replay
            AccrualRequest(a, 300 * RUB, keys[2], "r", "t", T0),  # new
        ],
    )
    assert [p.replayed for p in again] == [True, False]
    assert again[0].id == first[1].id
    assert (await balance(db, book, a, T0)).available == 400 * RUB
    assert (await balance(db, book, b, T0)).available == 200 * RUB
    with pytest.raises(IdempotencyConflict):
        await accrue_many(db, book, [AccrualRequest(a, 999 * RUB, keys[0], "r", "t", T0)])
    with pytest.raises(InvalidCommand):
        await accrue_many(
            db,
            book,
            [
                AccrualRequest(a, RUB, "dup", "r", "t", T0),
                AccrualRequest(b, RUB, "dup", "r", "t", T0),
            ],
        )
    assert await check_invariants(db) == []


async def test_a_batch_of_redemptions_refuses_only_what_cannot_be_paid(
    db: AsyncConnection,
) -> None:
    book = await create_book(db)
    a, b = await create_customer(db, book), await create_customer(db, book)
    await accrue_many(
        db,
        book,
        [
            AccrualRequest(a, 100 * RUB, ref(), "r", "t", T0),
            AccrualRequest(b, 50 * RUB, ref(), "r", "t", T0),
        ],
    )
    results = await redeem_many(
        db,
        book,
        [
            RedemptionRequest(a, 60 * RUB, ref(), "r", "t", T0),
            RedemptionRequest(a, 60 * RUB, ref(), "r", "t", T0),  # only 40 left after the first
            RedemptionRequest(b, 50 * RUB, ref(), "r", "t", T0),
            RedemptionRequest(a, 40 * RUB, ref(), "r", "t", T0),
        ],
    )
    assert [type(r) for r in results] == [Posted, InsufficientPoints, Posted, Posted]
    assert (await balance(db, book, a, T0)).available == 0
    assert (await balance(db, book, b, T0)).available == 0
    assert await check_invariants(db) == []
