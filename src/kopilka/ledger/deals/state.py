"""What the ledger holds for a deal: its live accruals, captures and hold, read for many deals
at once; the per-deal advisory locks; what a customer may pay the deal with."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from kopilka.db.tables import accounts, holds, ledger_entries, ledger_transactions
from kopilka.ledger.queries import balance
from kopilka.ledger.spending import get_hold
from kopilka.ledger.types import Book, HoldView, Posted


@dataclass(frozen=True, slots=True)
class LiveAccrual:
    transaction_id: int
    customer_id: int
    rule_id: str
    amount: int


@dataclass(frozen=True, slots=True)
class LiveCapture:
    transaction_id: int
    customer_id: int
    amount: int


@dataclass(slots=True)
class DealLedger:
    """What the ledger holds for one deal right now."""

    accruals: list[LiveAccrual] = field(default_factory=list)
    active_hold: HoldView | None = None
    active_hold_customer: int | None = None
    captures: list[LiveCapture] = field(default_factory=list)
    entries: int = 0  # transactions ever posted for the deal: numbers the next keys


@dataclass(slots=True)
class Reconciled:
    posted: list[Posted] = field(default_factory=list)
    hold: HoldView | None = None

    @property
    def changed(self) -> bool:
        return bool(self.posted) or self.hold is not None


async def lock_reference(conn: AsyncConnection, book: Book, reference: str) -> None:
    await lock_references(conn, book, [reference])


async def lock_references(conn: AsyncConnection, book: Book, references: Iterable[str]) -> None:
    """Transaction-scoped advisory locks on the deals, taken in one order by every caller."""
    keys = sorted({f"kopilka:{book.portal_id}:{r}" for r in references})
    await conn.execute(
        text(
            "SELECT pg_advisory_xact_lock(hashtextextended(k, 0))"
            " FROM (SELECT k FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k) AS ordered"
        ),
        {"keys": keys},
    )


async def read_deal_ledger(conn: AsyncConnection, book: Book, reference: str) -> DealLedger:
    return (await read_deal_ledgers(conn, book, [reference]))[reference]


async def read_deal_ledgers(
    conn: AsyncConnection, book: Book, references: Iterable[str]
) -> dict[str, DealLedger]:
    """What the ledger holds for each deal, in three statements for any number of deals (plus
    one per capture or active hold, which few deals have)."""
    refs = sorted(set(references))
    states = {ref: DealLedger() for ref in refs}
    if not refs:
        return states
    tx = ledger_transactions
    reversal = aliased(ledger_transactions)
    mine = (
        (tx.c.portal_id == book.portal_id)
        & (tx.c.program_id == book.program_id)
        & (tx.c.reference != "")  # the partial index on references
        & tx.c.reference.in_(refs)
    )
    for ref, count in await conn.execute(
        select(tx.c.reference, func.count()).where(mine).group_by(tx.c.reference)
    ):
        states[ref].entries = int(count)
    rows = await conn.execute(
        select(
            tx.c.id,
            tx.c.reference,
            tx.c.kind,
            tx.c.rule_id,
            accounts.c.customer_id,
            accounts.c.kind.label("ak"),
            func.sum(ledger_entries.c.amount).label("amount"),
        )
        .join(ledger_entries, ledger_entries.c.transaction_id == tx.c.id)
        .join(accounts, accounts.c.id == ledger_entries.c.account_id)
        .outerjoin(reversal, reversal.c.reverses_id == tx.c.id)
        .where(mine, tx.c.kind.in_(("accrual", "capture")), reversal.c.id.is_(None))
        .group_by(
            tx.c.id,
            tx.c.reference,
            tx.c.kind,
            tx.c.rule_id,
            accounts.c.customer_id,
            accounts.c.kind,
        )
        .order_by(tx.c.id)
    )
    for r in rows:
        state = states[r.reference]
        if r.kind == "accrual" and r.ak == "customer":
            state.accruals.append(
                LiveAccrual(int(r.id), int(r.customer_id), r.rule_id or "", int(r.amount))
            )
        elif r.kind == "capture" and r.ak == "redeemed":
            owner = await conn.scalar(
                select(accounts.c.customer_id)
                .join(ledger_entries, ledger_entries.c.account_id == accounts.c.id)
                .where(ledger_entries.c.transaction_id == r.id, accounts.c.kind == "held")
                .limit(1)
            )
            assert owner is not None, "a capture always moves points out of a held account"
            state.captures.append(LiveCapture(int(r.id), int(owner), int(r.amount)))
    active = await conn.execute(
        select(holds.c.id, holds.c.reference, accounts.c.customer_id)
        .join(accounts, accounts.c.id == holds.c.account_id)
        .where(
            holds.c.portal_id == book.portal_id,
            holds.c.reference != "",
            holds.c.reference.in_(refs),
            holds.c.status == "active",
            accounts.c.program_id == book.program_id,
        )
    )
    for hold_id, ref, customer_id in active.all():
        states[ref].active_hold = await get_hold(conn, book, int(hold_id))
        states[ref].active_hold_customer = int(customer_id)
    return states


async def spendable_for_deal(
    conn: AsyncConnection, book: Book, reference: str, customer_id: int, now: datetime
) -> int:
    """What the customer can pay this deal with: the available points, plus what the deal
    already holds or took (re-evaluating a deal must not shrink its own payment), minus what the
    deal itself earned (a deal never pays with its own points, which it may have to give back)."""
    state = await read_deal_ledger(conn, book, reference)
    held = (
        state.active_hold.amount
        if state.active_hold and state.active_hold_customer == customer_id
        else 0
    )
    taken = sum(c.amount for c in state.captures if c.customer_id == customer_id)
    earned_here = sum(a.amount for a in state.accruals if a.customer_id == customer_id)
    available = (await balance(conn, book, customer_id, now)).available
    return max(available + held + taken - earned_here, 0)
