"""Accruals and redemptions as one statement each: the server-side commands of migration 0031.

``ledger_accrue`` and ``ledger_redeem`` take a batch of validated commands as arrays and answer
one row per command: its outcome and the transaction as stored. This module builds their
parameters and reads their answers; :mod:`kopilka.ledger.accrual` and
:mod:`kopilka.ledger.spending` run them inside a unit of work, :mod:`kopilka.ledger.onetrip` on a
bare connection in one round trip. The SQL is in the driver's own parameter style so that both
run the same text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from kopilka.domain.errors import (
    IdempotencyConflict,
    InsufficientPoints,
    InvalidCommand,
    UnknownCustomer,
)
from kopilka.domain.money import format_points
from kopilka.ledger.posting import Command
from kopilka.ledger.types import Book, Leg, Posted

ACCRUE = """
SELECT * FROM ledger_accrue(
    %(portal)s, %(program)s, %(program_hash)s, %(customer)s::bigint[], %(amount)s::bigint[],
    %(key)s::text[], %(hash)s::text[], %(reason)s::text[], %(actor)s::text[],
    %(source)s::text[], %(reference)s::text[], %(rule_id)s::text[], %(rule_inputs)s::text[],
    %(available_at)s::timestamptz[], %(expires_at)s::timestamptz[],
    %(effective_at)s::timestamptz[])
"""

REDEEM = """
SELECT * FROM ledger_redeem(
    %(portal)s, %(program)s, %(program_hash)s, %(customer)s::bigint[], %(amount)s::bigint[],
    %(key)s::text[], %(hash)s::text[], %(reason)s::text[], %(actor)s::text[],
    %(source)s::text[], %(reference)s::text[], %(effective_at)s::timestamptz[])
"""


def _common(book: Book, commands: Sequence[Command]) -> dict[str, Any]:
    keys = [c.key for c in commands]
    if len(set(keys)) != len(keys):
        raise InvalidCommand("the same idempotency key twice in one batch")
    return {
        "portal": book.portal_id,
        "program": book.program_id,
        "program_hash": book.program_hash,
        "key": keys,
        "hash": [c.hash for c in commands],
        "reason": [c.reason for c in commands],
        "actor": [c.actor for c in commands],
        "source": [c.source for c in commands],
        "reference": [c.reference for c in commands],
        "effective_at": [c.effective_at for c in commands],
    }


def accrual_params(
    book: Book, customers: Sequence[int], amounts: Sequence[int], commands: Sequence[Command]
) -> dict[str, Any]:
    """Parameters of :data:`ACCRUE`; each command's inputs hold its availability and expiry."""
    return {
        **_common(book, commands),
        "customer": list(customers),
        "amount": list(amounts),
        "rule_id": [c.rule_id for c in commands],
        "rule_inputs": [json.dumps(c.rule_inputs, sort_keys=True, default=str) for c in commands],
        "available_at": [c.inputs["available_at"] for c in commands],
        "expires_at": [c.inputs["expires_at"] for c in commands],
    }


def redemption_params(
    book: Book, customers: Sequence[int], amounts: Sequence[int], commands: Sequence[Command]
) -> dict[str, Any]:
    """Parameters of :data:`REDEEM`."""
    return {**_common(book, commands), "customer": list(customers), "amount": list(amounts)}


def outcomes(
    rows: Sequence[Sequence[Any]], commands: Sequence[Command]
) -> list[Posted | InsufficientPoints]:
    """Each command's result: its transaction (``replayed`` for a replay) or, for a spend the
    customer cannot afford, the error in its place. A conflicting key and an unknown customer
    raise (the statement wrote nothing for an unknown customer)."""
    if len(rows) == 1 and rows[0][0] == "unknown_customer":
        raise UnknownCustomer(f"no customer #{rows[0][1]} in this portal")
    found: list[Posted | InsufficientPoints] = []
    for command, row in zip(commands, rows, strict=True):
        outcome, detail = row[0], row[1]
        if outcome == "conflict":
            raise IdempotencyConflict(
                f"idempotency key {command.key!r} was already used for a different {detail} "
                "request; use a new key for a new request"
            )
        if outcome == "insufficient":
            found.append(
                InsufficientPoints(
                    f"not enough points: {format_points(command.inputs['amount'])} requested, "
                    f"{format_points(int(detail))} available"
                )
            )
            continue
        found.append(_stored(row[2:], replayed=outcome == "replay"))
    return found


def _stored(r: Sequence[Any], *, replayed: bool) -> Posted:
    columns = zip(r[14], r[15], r[16], r[17], r[18], strict=True)
    legs = tuple(
        Leg(int(account), kind, customer, lot, int(amount))
        for account, kind, customer, lot, amount in columns
    )
    return Posted(
        id=int(r[0]),
        kind=r[1],
        idempotency_key=r[2],
        reason=r[3],
        actor=r[4],
        source=r[5],
        reference=r[6],
        program_hash=r[7],
        rule_id=r[8],
        rule_inputs=dict(r[9]),
        hold_id=r[10],
        reverses_id=r[11],
        effective_at=r[12],
        created_at=r[13],
        legs=legs,
        replayed=replayed,
    )
