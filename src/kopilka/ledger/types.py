"""What the ledger returns: plain frozen values, safe to print, serialise and compare."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class Book:
    """One program's ledger inside one portal: the scope of every ledger command."""

    portal_id: int
    program_id: int
    program_code: str
    program_hash: str | None
    timezone: ZoneInfo


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    kind: str  # issued | customer | held | redeemed | expired
    customer_id: int | None


@dataclass(frozen=True, slots=True)
class Leg:
    account_id: int
    account_kind: str
    customer_id: int | None
    lot_id: int | None
    amount: int


@dataclass(frozen=True, slots=True)
class Posted:
    """A ledger transaction as stored, with its legs; ``replayed`` when an idempotent replay."""

    id: int
    kind: str
    idempotency_key: str
    reason: str
    actor: str
    source: str
    reference: str
    program_hash: str | None
    rule_id: str | None
    rule_inputs: dict[str, Any]
    hold_id: int | None
    reverses_id: int | None
    effective_at: datetime
    created_at: datetime
    legs: tuple[Leg, ...] = ()
    replayed: bool = False

    def net_for(self, account_id: int) -> int:
        return sum(leg.amount for leg in self.legs if leg.account_id == account_id)


@dataclass(frozen=True, slots=True)
class HoldView:
    id: int
    account_id: int
    amount: int
    captured: int
    status: str
    reference: str
    expires_at: datetime
    created_at: datetime
    closed_at: datetime | None
    reason: str = ""  # why it was placed (the hold transaction's reason)
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class LotView:
    id: int
    amount: int
    remaining: int
    available_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class Balance:
    customer_id: int
    total: int  # the customer account: available + pending + due-for-expiry
    available: int  # spendable now
    pending: int  # earned, not yet available
    held: int  # reserved by active holds
    expiring: tuple[LotView, ...] = field(default=())  # open lots with an expiry, soonest first
