"""Scenario S1 through the program engine and the ledger (the Bitrix24 leg comes with the
connector): every number from scenarios.md, and every repeat of an event changes nothing."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.domain.deal import Contact, Deal
from kopilka.ledger.book import ensure_book
from kopilka.ledger.deals import settle_deal
from kopilka.ledger.invariants import check_invariants
from kopilka.ledger.queries import balance
from kopilka.ledger.types import Book
from kopilka.program import Program, load_program
from tests.factories import T0, create_book, create_customer

RUB = 100
EXAMPLES = Path(__file__).parents[2] / "examples"
ANNA = Contact(11, type_id="CLIENT", is_primary=True)  # «Розница»
BORIS = Contact(12, type_id="1", is_primary=True)  # «Оптовики»


async def _setup(db: AsyncConnection) -> tuple[Program, Book, dict[int, int]]:
    program = load_program(EXAMPLES / "retail-wholesale.yaml")
    bare = await create_book(db, code=program.program)
    book = await ensure_book(
        db,
        bare.portal_id,
        code=program.program,
        title=program.title,
        timezone=program.timezone,
        program_hash=program.hash,
        source_name="retail-wholesale.yaml",
        source="…",
    )
    customers = {
        c.id: await create_customer(db, book, external_id=str(c.id)) for c in (ANNA, BORIS)
    }
    return program, book, customers


async def test_s1_retail_and_wholesale(db: AsyncConnection) -> None:
    program, book, customers = await _setup(db)

    async def deal(d: Deal) -> int:
        _effects, result = await settle_deal(db, book, program, d, customers=customers, now=T0)
        return len(result.posted) + (1 if result.hold else 0)

    async def bal(contact: Contact) -> tuple[int, int]:
        b = await balance(db, book, customers[contact.id], T0)
        return b.available // RUB, b.held // RUB

    # A retail contact wins a 10 000 ₽ deal → +500.
    assert await deal(Deal(1, 0, "won", 10_000 * RUB, (ANNA,))) == 1
    assert await bal(ANNA) == (500, 0)
    # A wholesale contact with a company wins 100 000 ₽ in «Опт» → +8 000.
    await deal(Deal(2, 1, "won", 100_000 * RUB, (BORIS,), company_id=5))
    assert await bal(BORIS) == (8_000, 0)
    # The same events again (duplicates) change nothing.
    assert await deal(Deal(1, 0, "won", 10_000 * RUB, (ANNA,))) == 0
    assert await deal(Deal(2, 1, "won", 100_000 * RUB, (BORIS,), company_id=5)) == 0

    await deal(Deal(3, 0, "won", 90_000 * RUB, (ANNA,)))
    assert await bal(ANNA) == (5_000, 0)

    # Anna opens a 10 000 ₽ deal and asks to pay 5 000 with points → capped to 4 000, held.
    open_deal = Deal(4, 0, "process", 10_000 * RUB, (ANNA,), points_to_pay=5_000 * RUB)
    await deal(open_deal)
    assert await bal(ANNA) == (1_000, 4_000)
    assert await deal(open_deal) == 0  # re-evaluating keeps the same hold

    # Won: the hold is captured (balance 1 000) and 5 % of the 6 000 ₽ paid is earned: +300.
    won = Deal(4, 0, "won", 10_000 * RUB, (ANNA,), points_to_pay=5_000 * RUB)
    await deal(won)
    assert await bal(ANNA) == (1_300, 0)
    assert await deal(won) == 0

    # Moved from won back to in progress: the accrual is reversed, the payment is held again.
    await deal(open_deal)
    assert await bal(ANNA) == (1_000, 4_000)
    # Won again: captured, and +300 earned once.
    await deal(won)
    await deal(won)
    assert await bal(ANNA) == (1_300, 0)

    # A lost deal releases its hold.
    await deal(
        Deal(5, 1, "process", 20_000 * RUB, (BORIS,), company_id=5, points_to_pay=3_000 * RUB)
    )
    assert await bal(BORIS) == (5_000, 3_000)
    await deal(Deal(5, 1, "lost", 20_000 * RUB, (BORIS,), company_id=5, points_to_pay=3_000 * RUB))
    assert await bal(BORIS) == (8_000, 0)
    assert await check_invariants(db) == []


async def test_a_changed_amount_after_winning_adjusts_points_exactly_once(
    db: AsyncConnection,
) -> None:
    program, book, customers = await _setup(db)
    await settle_deal(
        db, book, program, Deal(7, 0, "won", 10_000 * RUB, (ANNA,)), customers=customers, now=T0
    )
    edited = Deal(7, 0, "won", 12_000 * RUB, (ANNA,))
    _, first = await settle_deal(db, book, program, edited, customers=customers, now=T0)
    _, second = await settle_deal(db, book, program, edited, customers=customers, now=T0)
    assert [p.kind for p in first.posted] == ["reversal", "accrual"]
    assert second.posted == []
    assert (await balance(db, book, customers[ANNA.id], T0)).available == 600 * RUB
