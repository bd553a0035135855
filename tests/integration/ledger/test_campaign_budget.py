"""A campaign's budget under concurrency, with real commits: a second deal of the same campaign
window waits for the first to commit and then gets only what is left."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.db.engine import run_in_transaction
from kopilka.domain.deal import Contact, Deal
from kopilka.ledger.deals import settle_deal
from kopilka.ledger.types import Book
from kopilka.program import parse_program
from tests.factories import T0, create_book, create_customer

RUB = 100
PROGRAM = """
program: test
title: Тест
earn: [{id: all-5, title: Всем 5 %, percent: 5}]
campaigns:
  - {id: spring, title: Весна, from: 2026-03-01, to: 2026-03-08, multiplier: 2, budget: 700}
"""
RULE = "campaign:spring:2026-03-01"


def won(deal_id: int, contact: int) -> Deal:
    return Deal(deal_id, 0, "won", 10_000 * RUB, (Contact(contact, "CLIENT"),), closed_at=T0)


async def campaign_lines(engine: AsyncEngine, portal_id: int) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT t.reference, sum(e.amount) FROM ledger_transactions t "
                "JOIN ledger_entries e ON e.transaction_id = t.id "
                "JOIN accounts a ON a.id = e.account_id "
                "WHERE t.portal_id = :p AND t.rule_id = :r AND a.kind = 'customer' "
                "GROUP BY t.reference"
            ),
            {"p": portal_id, "r": RULE},
        )
        return {str(ref): int(total) for ref, total in rows}


async def test_the_second_deal_waits_for_the_first_and_gets_what_is_left(
    committed_engine: AsyncEngine,
) -> None:
    program = parse_program(PROGRAM, "test.yaml")

    async def setup(conn: AsyncConnection) -> tuple[Book, int, int]:
        book = await create_book(conn)
        return book, await create_customer(conn, book), await create_customer(conn, book)

    book, first, second = await run_in_transaction(committed_engine, setup)

    async def settle(conn: AsyncConnection, deal: Deal, customer: int) -> None:
        await settle_deal(
            conn, book, program, deal, customers={deal.contacts[0].id: customer}, now=T0
        )

    async with committed_engine.connect() as conn_a:
        transaction = await conn_a.begin()
        await settle(conn_a, won(1, 11), first)  # holds the window's lock until it commits
        other = asyncio.create_task(
            run_in_transaction(committed_engine, lambda conn: settle(conn, won(2, 12), second))
        )
        async with committed_engine.connect() as watch:
            while not other.done():  # until the second waits on a lock
                waiting = await watch.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND wait_event_type = 'Lock'"
                    )
                )
                await watch.rollback()  # a fresh view of the activity next time
                if waiting:
                    break
                await asyncio.sleep(0.02)
        assert not other.done(), "the second deal did not wait for the campaign's lock"
        await transaction.commit()
    await other
    lines = await campaign_lines(committed_engine, book.portal_id)
    assert lines == {"deal:1": 500 * RUB, "deal:2": 200 * RUB}

    # Settling both again gives nothing more and takes nothing back.
    await run_in_transaction(committed_engine, lambda conn: settle(conn, won(1, 11), first))
    await run_in_transaction(committed_engine, lambda conn: settle(conn, won(2, 12), second))
    assert await campaign_lines(committed_engine, book.portal_id) == lines
