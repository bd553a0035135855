"""Earning points: ``issued → customer``, creating one lot with its availability and expiry.

:func:`accrue_many` posts any number of accruals in a handful of statements (the deal sync and
backfills post in batches); :func:`accrue` is the same mechanism for one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.domain.errors import InvalidAmount, InvalidCommand
from kopilka.ledger import book as books
from kopilka.ledger.posting import NEW_LOT, Command, LegSpec, LotSpec, Posting, post_many
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
    """Post every accrual (replays come back as such); unknown customers raise first."""
    commands = [r.command() for r in requests]  # validates all before writing anything
    found = await books.accounts(conn, book, [r.customer_id for r in requests], ["customer"])
    issued = found[("issued", None)]
    postings = []
    for request, command in zip(requests, commands, strict=True):
        customer = found[("customer", request.customer_id)]
        postings.append(
            Posting(
                command,
                [LegSpec(issued, -request.amount), LegSpec(customer, request.amount, NEW_LOT)],
                new_lot=LotSpec(
                    customer,
                    request.amount,
                    request.available_at or request.now,
                    request.expires_at,
                ),
            )
        )
    return await post_many(conn, book, postings)


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
