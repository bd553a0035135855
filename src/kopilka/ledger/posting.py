"""The one way entries get written: an idempotent, balanced transaction with its legs.

Every command computes a hash of its inputs and stores it with its idempotency key under a
UNIQUE constraint. Looking the key up first makes a replay return the original transaction; the
same key with other inputs is refused. Two concurrent first attempts with one key collide on the
constraint; the loser's unit of work is retried and then finds the winner's row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.db.tables import accounts, ledger_entries, ledger_transactions, lots
from kopilka.domain.errors import IdempotencyConflict, InvalidCommand
from kopilka.ledger.types import Book, Leg, Posted

MAX_KEY_LENGTH = 200
NEW_LOT = -1  # a leg's lot_id placeholder: "the lot this transaction creates"


def _jsonable(value: Mapping[str, Any]) -> dict[str, Any]:
    return dict(json.loads(json.dumps(value, sort_keys=True, default=str)))


def input_hash(kind: str, inputs: Mapping[str, Any]) -> str:
    canonical = json.dumps({"kind": kind, **inputs}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Command:
    kind: str
    key: str
    reason: str
    actor: str
    effective_at: datetime
    inputs: Mapping[str, Any]  # the command's own arguments: what the input hash covers
    source: str = ""
    reference: str = ""  # what the entry belongs to, e.g. "deal:123" (not part of the hash)
    rule_id: str | None = None
    rule_inputs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.key or len(self.key) > MAX_KEY_LENGTH:
            raise InvalidCommand(
                f"an idempotency key of 1 to {MAX_KEY_LENGTH} characters is required"
            )
        if not self.reason.strip():
            raise InvalidCommand("a reason is required")
        if not self.actor.strip():
            raise InvalidCommand("an actor is required")
        if self.effective_at.tzinfo is None:
            raise InvalidCommand("times must carry a time zone")

    @property
    def hash(self) -> str:
        return input_hash(self.kind, self.inputs)


@dataclass(frozen=True, slots=True)
class LegSpec:
    account_id: int
    amount: int
    lot_id: int | None = None


@dataclass(frozen=True, slots=True)
class LotSpec:
    account_id: int
    amount: int
    available_at: datetime
    expires_at: datetime | None


async def find_by_key(conn: AsyncConnection, book: Book, command: Command) -> Posted | None:
    """The transaction an earlier run of ``command`` posted, or None; refuses changed inputs."""
    row = (
        await conn.execute(
            select(ledger_transactions).where(
                ledger_transactions.c.portal_id == book.portal_id,
                ledger_transactions.c.idempotency_key == command.key,
            )
        )
    ).one_or_none()
    if row is None:
        return None
    if row.input_hash != command.hash or row.kind != command.kind:
        raise IdempotencyConflict(
            f"idempotency key {command.key!r} was already used for a different {row.kind} "
            "request; use a new key for a new request"
        )
    return await load_posted(conn, int(row.id), replayed=True)


async def posted_by_key(conn: AsyncConnection, book: Book, key: str) -> Posted | None:
    """The transaction stored under ``key`` (marked as a replay), whatever its inputs were."""
    tx_id = await conn.scalar(
        select(ledger_transactions.c.id).where(
            ledger_transactions.c.portal_id == book.portal_id,
            ledger_transactions.c.idempotency_key == key,
        )
    )
    return None if tx_id is None else await load_posted(conn, int(tx_id), replayed=True)


async def post(
    conn: AsyncConnection,
    book: Book,
    command: Command,
    legs: Sequence[LegSpec],
    *,
    new_lot: LotSpec | None = None,
    hold_id: int | None = None,
    reverses_id: int | None = None,
) -> Posted:
    """Write the transaction, its lot (if it creates one) and all its legs in one statement."""
    if sum(leg.amount for leg in legs) != 0 or any(leg.amount == 0 for leg in legs):
        raise AssertionError(f"unbalanced or empty legs for {command.kind}: {legs}")
    tx_id = await conn.scalar(
        insert(ledger_transactions)
        .values(
            portal_id=book.portal_id,
            program_id=book.program_id,
            kind=command.kind,
            idempotency_key=command.key,
            input_hash=command.hash,
            reason=command.reason,
            actor=command.actor,
            source=command.source,
            reference=command.reference,
            program_hash=book.program_hash,
            rule_id=command.rule_id,
            rule_inputs=_jsonable(command.rule_inputs),
            hold_id=hold_id,
            reverses_id=reverses_id,
            effective_at=command.effective_at,
        )
        .returning(ledger_transactions.c.id)
    )
    assert tx_id is not None
    lot_id: int | None = None
    if new_lot is not None:
        lot_id = await conn.scalar(
            insert(lots)
            .values(
                account_id=new_lot.account_id,
                transaction_id=tx_id,
                amount=new_lot.amount,
                available_at=new_lot.available_at,
                expires_at=new_lot.expires_at,
            )
            .returning(lots.c.id)
        )
    rows = [
        {
            "transaction_id": tx_id,
            "account_id": leg.account_id,
            "lot_id": lot_id if leg.lot_id == NEW_LOT else leg.lot_id,
            "amount": leg.amount,
        }
        for leg in legs
    ]
    await conn.execute(insert(ledger_entries).values(rows))  # one statement: all legs at once
    return await load_posted(conn, int(tx_id))


async def load_posted(conn: AsyncConnection, tx_id: int, *, replayed: bool = False) -> Posted:
    tx = (
        await conn.execute(select(ledger_transactions).where(ledger_transactions.c.id == tx_id))
    ).one()
    leg_rows = (
        await conn.execute(
            select(
                ledger_entries.c.account_id,
                ledger_entries.c.lot_id,
                ledger_entries.c.amount,
                accounts.c.kind,
                accounts.c.customer_id,
            )
            .join(accounts, accounts.c.id == ledger_entries.c.account_id)
            .where(ledger_entries.c.transaction_id == tx_id)
            .order_by(ledger_entries.c.id)
        )
    ).all()
    return Posted(
        id=int(tx.id),
        kind=tx.kind,
        idempotency_key=tx.idempotency_key,
        reason=tx.reason,
        actor=tx.actor,
        source=tx.source,
        reference=tx.reference,
        program_hash=tx.program_hash,
        rule_id=tx.rule_id,
        rule_inputs=dict(tx.rule_inputs),
        hold_id=tx.hold_id,
        reverses_id=tx.reverses_id,
        effective_at=tx.effective_at,
        created_at=tx.created_at,
        legs=tuple(
            Leg(int(r.account_id), r.kind, r.customer_id, r.lot_id, int(r.amount)) for r in leg_rows
        ),
        replayed=replayed,
    )
