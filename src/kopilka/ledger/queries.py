"""Reads: balances, history and one entry explained. Nothing here writes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, func, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.db.tables import accounts, ledger_entries, ledger_transactions, lots
from kopilka.domain.errors import UnknownTransaction
from kopilka.ledger.posting import load_posted
from kopilka.ledger.types import Balance, Book, LotView, Posted

_LOTS = select(
    accounts.c.kind,
    accounts.c.balance,
    lots.c.id,
    lots.c.amount,
    lots.c.remaining,
    lots.c.available_at,
    lots.c.expires_at,
).select_from(
    accounts.outerjoin(
        lots,
        (lots.c.account_id == accounts.c.id)
        & (accounts.c.kind == "customer")
        & (lots.c.remaining > 0),
    )
)
#: built once: the balance lookup is the public API's hottest path
_BALANCE = _LOTS.where(
    accounts.c.program_id == bindparam("program_id"),
    accounts.c.customer_id == bindparam("customer_id"),
).order_by(lots.c.expires_at.asc().nulls_last(), lots.c.id)
_BALANCES = (
    _LOTS.add_columns(accounts.c.customer_id)
    .where(
        accounts.c.program_id == bindparam("program_id"),
        accounts.c.customer_id.in_(bindparam("customer_ids", expanding=True)),
    )
    .order_by(accounts.c.customer_id, lots.c.expires_at.asc().nulls_last(), lots.c.id)
)


async def balance(conn: AsyncConnection, book: Book, customer_id: int, now: datetime) -> Balance:
    """The customer's balance in one statement (one round trip: the public API's hot path):
    the customer's accounts, each customer-account row joined with its open lots."""
    rows = (
        await conn.execute(_BALANCE, {"program_id": book.program_id, "customer_id": customer_id})
    ).all()
    return _fold(customer_id, rows, now)


async def balances(
    conn: AsyncConnection, book: Book, customer_ids: Sequence[int], now: datetime
) -> dict[int, Balance]:
    """:func:`balance` for many customers in one statement."""
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    found: dict[int, list[Row[Any]]] = {c: [] for c in ids}
    for row in await conn.execute(_BALANCES, {"program_id": book.program_id, "customer_ids": ids}):
        found[int(row.customer_id)].append(row)
    return {c: _fold(c, rows, now) for c, rows in found.items()}


def _fold(customer_id: int, rows: Sequence[Any], now: datetime) -> Balance:
    by_kind = {r.kind: int(r.balance) for r in rows}
    total = by_kind.get("customer", 0)
    held = by_kind.get("held", 0)
    open_lots = [
        LotView(int(r.id), int(r.amount), int(r.remaining), r.available_at, r.expires_at)
        for r in rows
        if r.id is not None
    ]
    pending = sum(lot.remaining for lot in open_lots if lot.available_at > now)
    available = sum(
        lot.remaining
        for lot in open_lots
        if lot.available_at <= now and (lot.expires_at is None or lot.expires_at > now)
    )
    expiring = tuple(lot for lot in open_lots if lot.expires_at is not None)
    return Balance(customer_id, total, available, pending, held, expiring)


@dataclass(frozen=True, slots=True)
class HistoryLine:
    transaction_id: int
    kind: str
    amount: int  # the change of the customer's own balance (available + pending)
    held: int  # the change of what is held for the customer
    reason: str
    source: str
    actor: str
    rule_id: str | None
    effective_at: datetime
    created_at: datetime
    reverses_id: int | None
    reference: str = ""  # what the entry belongs to, e.g. "deal:123"


async def history(
    conn: AsyncConnection,
    book: Book,
    customer_id: int,
    *,
    limit: int = 100,
    before: int | None = None,
) -> list[HistoryLine]:
    """The customer's entries, newest first; ``before``: only entries older than that id (the
    next page)."""
    mine = select(accounts.c.id).where(
        accounts.c.program_id == book.program_id, accounts.c.customer_id == customer_id
    )
    # the newest ``limit`` transactions first, from the index ``(account_id, transaction_id)``
    # alone; only those are then read and summed (not every transaction of a long history)
    newest = (
        select(ledger_entries.c.transaction_id)
        .where(ledger_entries.c.account_id.in_(mine))
        .where(ledger_entries.c.transaction_id < before if before is not None else true())
        .group_by(ledger_entries.c.transaction_id)
        .order_by(ledger_entries.c.transaction_id.desc())
        .limit(limit)
    )
    customer_amount = func.sum(ledger_entries.c.amount).filter(accounts.c.kind == "customer")
    held_amount = func.sum(ledger_entries.c.amount).filter(accounts.c.kind == "held")
    rows = await conn.execute(
        select(
            ledger_transactions.c.id,
            ledger_transactions.c.kind,
            ledger_transactions.c.reason,
            ledger_transactions.c.source,
            ledger_transactions.c.actor,
            ledger_transactions.c.rule_id,
            ledger_transactions.c.effective_at,
            ledger_transactions.c.created_at,
            ledger_transactions.c.reverses_id,
            ledger_transactions.c.reference,
            func.coalesce(customer_amount, 0).label("amount"),
            func.coalesce(held_amount, 0).label("held"),
        )
        .join(ledger_entries, ledger_entries.c.transaction_id == ledger_transactions.c.id)
        .join(accounts, accounts.c.id == ledger_entries.c.account_id)
        .where(ledger_entries.c.account_id.in_(mine))
        .where(ledger_transactions.c.id.in_(newest))
        .group_by(ledger_transactions.c.id)
        .order_by(ledger_transactions.c.id.desc())
        .limit(limit)
    )
    return [
        HistoryLine(
            int(r.id),
            r.kind,
            int(r.amount),
            int(r.held),
            r.reason,
            r.source,
            r.actor,
            r.rule_id,
            r.effective_at,
            r.created_at,
            r.reverses_id,
            r.reference,
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class Explanation:
    entry: Posted
    reversed_by: int | None
    program_code: str


async def explain(conn: AsyncConnection, book: Book, transaction_id: int) -> Explanation:
    found = await conn.scalar(
        select(ledger_transactions.c.id).where(
            ledger_transactions.c.id == transaction_id,
            ledger_transactions.c.program_id == book.program_id,
        )
    )
    if found is None:
        raise UnknownTransaction(f"no ledger entry #{transaction_id} in this program")
    reversed_by = await conn.scalar(
        select(ledger_transactions.c.id).where(ledger_transactions.c.reverses_id == transaction_id)
    )
    return Explanation(await load_posted(conn, transaction_id), reversed_by, book.program_code)
