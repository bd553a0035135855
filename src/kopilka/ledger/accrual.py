"""Earning points: ``issued → customer``, creating one lot with its availability and expiry.

:func:`accrue_many` posts any number of accruals in one statement, the server-side
``ledger_accrue`` (:mod:`kopilka.ledger.server`; the deal sync and backfills post in batches);
:func:`accrue` is the same statement for one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.domain.errors import InvalidAmount, InvalidCommand
from kopilka.ledger import server
from kopilka.ledger.posting import Command
from kopilka.ledger.types import Book, Posted


@dataclass(frozen=True, slots=True)
class AccrualRequest:
    customer_id: int
    amount: int
    key: str
    reason: str
    actor: str
    now: datetime
    source: str = ""
    rule_id: str | None = None
    rule_inputs: Mapping[str, Any] = field(default_factory=dict)
    available_at: datetime | None = None
    expires_at: datetime | None = None
    reference: str = ""

    def command(self) -> Command:
        if self.amount <= 0:
            raise InvalidAmount("an accrual must be greater than zero")
        available_at = self.available_at or self.now
        if self.expires_at is not None and self.expires_at <= available_at:
            raise InvalidCommand("points must expire after they become available")
        return Command(
            kind="accrual",
            key=self.key,
            reason=self.reason,
            actor=self.actor,
            effective_at=self.now,
            source=self.source,
            reference=self.reference,
            rule_id=self.rule_id,
            rule_inputs=self.rule_inputs,
            inputs={
                "customer_id": self.customer_id,
                "amount": self.amount,
                "available_at": available_at.isoformat(),
                "expires_at": self.expires_at.isoformat() if self.expires_at else None,
                "rule_id": self.rule_id,
                "source": self.source,
            },
        )


async def accrue_many(
    conn: AsyncConnection, book: Book, requests: Sequence[AccrualRequest]
) -> list[Posted]:
    """Post every accrual in one statement (replays come back as such); a batch naming an
    unknown customer raises and writes nothing."""
    commands = [r.command() for r in requests]  # validates all before writing anything
    if not commands:
        return []
    params = server.accrual_params(
        book, [r.customer_id for r in requests], [r.amount for r in requests], commands
    )
    rows = (await conn.exec_driver_sql(server.ACCRUE, params)).all()
    return [r for r in server.outcomes(rows, commands) if isinstance(r, Posted)]


async def accrue(
    conn: AsyncConnection,
    book: Book,
    *,
    customer_id: int,
    amount: int,
    key: str,
    reason: str,
    actor: str,
    now: datetime,
    source: str = "",
    rule_id: str | None = None,
    rule_inputs: Mapping[str, Any] | None = None,
    available_at: datetime | None = None,
    expires_at: datetime | None = None,
    reference: str = "",
) -> Posted:
    request = AccrualRequest(
        customer_id,
        amount,
        key,
        reason,
        actor,
        now,
        source,
        rule_id,
        rule_inputs or {},
        available_at,
        expires_at,
        reference,
    )
    (posted,) = await accrue_many(conn, book, [request])
    return posted
