"""Entries of holds, captures, releases, expiry and reversals: an idempotent, balanced
transaction with its legs (accruals and redemptions are one server-side statement each:
:mod:`kopilka.ledger.server`).

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

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.db.tables import accounts, ledger_entries, ledger_transactions
from kopilka.domain.errors import IdempotencyConflict, InvalidCommand
from kopilka.ledger.types import Account, Book, Leg, Posted

MAX_KEY_LENGTH = 200


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
    account: Account
    amount: int
    lot_id: int | None = None


@dataclass(frozen=True, slots=True)
class Posting:
    """One transaction to write: the command, its legs, and the hold or transaction it names."""

    command: Command
    legs: Sequence[LegSpec]
    hold_id: int | None = None
    reverses_id: int | None = None

    def __post_init__(self) -> None:
        if sum(leg.amount for leg in self.legs) != 0 or any(leg.amount == 0 for leg in self.legs):
            raise AssertionError(f"unbalanced or empty legs for {self.command.kind}: {self.legs}")


async def find_by_key(conn: AsyncConnection, book: Book, command: Command) -> Posted | None:
    """The transaction an earlier run of ``command`` posted, or None; refuses changed inputs."""
    return (await find_many(conn, book, [command]))[0]


async def find_many(
    conn: AsyncConnection, book: Book, commands: Sequence[Command]
) -> list[Posted | None]:
    """:func:`find_by_key` for many commands in one query."""
    rows = (
        await conn.execute(
            select(
                ledger_transactions.c.id,
                ledger_transactions.c.idempotency_key,
                ledger_transactions.c.input_hash,
                ledger_transactions.c.kind,
            ).where(
                ledger_transactions.c.portal_id == book.portal_id,
                ledger_transactions.c.idempotency_key.in_([c.key for c in commands]),
            )
        )
    ).all()
    stored = {r.idempotency_key: r for r in rows}
    found: list[Posted | None] = []
    for command in commands:
        row = stored.get(command.key)
        if row is None:
            found.append(None)
            continue
        if row.input_hash != command.hash or row.kind != command.kind:
            raise IdempotencyConflict(
                f"idempotency key {command.key!r} was already used for a different {row.kind} "
                "request; use a new key for a new request"
            )
        found.append(await load_posted(conn, int(row.id), replayed=True))
    return found


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
    hold_id: int | None = None,
    reverses_id: int | None = None,
) -> Posted:
    """Write one transaction (see :func:`post_many`)."""
    (posted,) = await post_many(conn, book, [Posting(command, legs, hold_id, reverses_id)])
    return posted


async def post_many(conn: AsyncConnection, book: Book, postings: Sequence[Posting]) -> list[Posted]:
    """Write transactions and all their legs: two statements for up to 1 000.

    A posting whose key is already stored is not written again: its stored transaction comes
    back as a replay (or, with other inputs, :class:`IdempotencyConflict` is raised).
    """
    keys = [p.command.key for p in postings]
    if len(set(keys)) != len(keys):
        raise InvalidCommand("the same idempotency key twice in one batch")
    if not postings:
        return []
    rows = [_transaction_row(p) for p in postings]
    inserted = {
        r.idempotency_key: (int(r.id), r.created_at)
        for r in await conn.execute(
            INSERT_TRANSACTIONS,
            {
                "portal": book.portal_id,
                "program": book.program_id,
                "program_hash": book.program_hash,
                **_columns(rows),
            },
        )
    }
    fresh = [p for p in postings if p.command.key in inserted]
    replays = await find_many(
        conn, book, [p.command for p in postings if p.command.key not in inserted]
    )
    entry_rows = []
    results: dict[str, Posted] = {}
    for p in fresh:
        tx_id, created_at = inserted[p.command.key]
        legs = tuple(
            Leg(
                leg.account.id,
                leg.account.kind,
                leg.account.customer_id,
                leg.lot_id,
                leg.amount,
            )
            for leg in p.legs
        )
        entry_rows += [
            {
                "transaction_id": tx_id,
                "account_id": leg.account_id,
                "lot_id": leg.lot_id,
                "amount": leg.amount,
            }
            for leg in legs
        ]
        results[p.command.key] = _posted(book, p, tx_id, created_at, legs)
    if entry_rows:
        # One statement: every leg is in place before the nets-to-zero check runs.
        await conn.execute(INSERT_ENTRIES, _columns(entry_rows))
    replayed = iter(replays)
    return [
        results[p.command.key] if p.command.key in results else _some(next(replayed))
        for p in postings
    ]


def _some(posted: Posted | None) -> Posted:
    assert posted is not None, "a key that conflicted on insert must be stored"
    return posted


def _transaction_row(p: Posting) -> dict[str, Any]:
    c = p.command
    return {
        "kind": c.kind,
        "idempotency_key": c.key,
        "input_hash": c.hash,
        "reason": c.reason,
        "actor": c.actor,
        "source": c.source,
        "reference": c.reference,
        "rule_id": c.rule_id,
        "rule_inputs": json.dumps(c.rule_inputs, sort_keys=True, default=str),
        "hold_id": p.hold_id,
        "reverses_id": p.reverses_id,
        "effective_at": c.effective_at,
    }


def _columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Rows as one array per column: the shape ``unnest`` takes."""
    return {name: [row[name] for row in rows] for name in rows[0]}


# Bulk writes as INSERT … SELECT FROM unnest(arrays): one fixed statement (prepared once per
# connection) whatever the number of rows, instead of a VALUES list that grows with the batch.
INSERT_TRANSACTIONS = text("""
    INSERT INTO ledger_transactions
        (portal_id, program_id, program_hash, kind, idempotency_key, input_hash, reason, actor,
         source, reference, rule_id, rule_inputs, hold_id, reverses_id, effective_at)
    SELECT :portal, :program, :program_hash, u.kind::transaction_kind, u.idempotency_key,
           u.input_hash, u.reason, u.actor, u.source, u.reference, u.rule_id,
           u.rule_inputs::jsonb, u.hold_id, u.reverses_id, u.effective_at
      FROM unnest(CAST(:kind AS text[]), CAST(:idempotency_key AS text[]),
                  CAST(:input_hash AS text[]), CAST(:reason AS text[]), CAST(:actor AS text[]),
                  CAST(:source AS text[]), CAST(:reference AS text[]), CAST(:rule_id AS text[]),
                  CAST(:rule_inputs AS text[]), CAST(:hold_id AS bigint[]),
                  CAST(:reverses_id AS bigint[]), CAST(:effective_at AS timestamptz[]))
           AS u(kind, idempotency_key, input_hash, reason, actor, source, reference, rule_id,
                rule_inputs, hold_id, reverses_id, effective_at)
    ON CONFLICT ON CONSTRAINT idempotency_key_unique DO NOTHING
    RETURNING id, idempotency_key, created_at
""")
INSERT_ENTRIES = text("""
    INSERT INTO ledger_entries (transaction_id, account_id, lot_id, amount)
    SELECT * FROM unnest(CAST(:transaction_id AS bigint[]), CAST(:account_id AS bigint[]),
                         CAST(:lot_id AS bigint[]), CAST(:amount AS bigint[]))
""")


def _posted(
    book: Book, p: Posting, tx_id: int, created_at: datetime, legs: tuple[Leg, ...]
) -> Posted:
    c = p.command
    return Posted(
        id=tx_id,
        kind=c.kind,
        idempotency_key=c.key,
        reason=c.reason,
        actor=c.actor,
        source=c.source,
        reference=c.reference,
        program_hash=book.program_hash,
        rule_id=c.rule_id,
        rule_inputs=_jsonable(c.rule_inputs),
        hold_id=p.hold_id,
        reverses_id=p.reverses_id,
        effective_at=c.effective_at,
        created_at=created_at,
        legs=legs,
    )


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
