"""Earning points: ``issued → customer``, creating one lot with its availability and expiry."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.domain.errors import InvalidAmount, InvalidCommand
from kopilka.ledger import book as books
from kopilka.ledger.posting import NEW_LOT, Command, LegSpec, LotSpec, find_by_key, post
from kopilka.ledger.types import Book, Posted


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
    if amount <= 0:
        raise InvalidAmount("an accrual must be greater than zero")
    available_at = available_at or now
    if expires_at is not None and expires_at <= available_at:
        raise InvalidCommand("points must expire after they become available")
    command = Command(
        kind="accrual",
        key=key,
        reason=reason,
        actor=actor,
        effective_at=now,
        source=source,
        reference=reference,
        rule_id=rule_id,
        rule_inputs=rule_inputs or {},
        inputs={
            "customer_id": customer_id,
            "amount": amount,
            "available_at": available_at.isoformat(),
            "expires_at": expires_at.isoformat() if expires_at else None,
            "rule_id": rule_id,
            "source": source,
        },
    )
    if (done := await find_by_key(conn, book, command)) is not None:
        return done
    await books.check_customer(conn, book, customer_id)
    customer = await books.account_id(conn, book, "customer", customer_id)
    issued = await books.account_id(conn, book, "issued")
    return await post(
        conn,
        book,
        command,
        [LegSpec(issued, -amount), LegSpec(customer, amount, NEW_LOT)],
        new_lot=LotSpec(customer, amount, available_at, expires_at),
    )
