"""Which lots pay for a spend: the soonest-expiring available points first.

Pure: takes lot snapshots, returns (lot id, amount) pairs. The ledger service reads the lots under
the account's row lock and posts what this returns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from kopilka.domain.errors import InsufficientPoints
from kopilka.domain.money import format_points


@dataclass(frozen=True, slots=True)
class LotSnapshot:
    id: int
    remaining: int
    available_at: datetime
    expires_at: datetime | None

    def spendable_at(self, now: datetime) -> bool:
        return (
            self.remaining > 0
            and self.available_at <= now
            and (self.expires_at is None or self.expires_at > now)
        )


def spend_order(lot: LotSnapshot) -> tuple[bool, datetime, datetime, int]:
    """Soonest expiry first; never-expiring lots last; then oldest first."""
    never = lot.expires_at is None
    return (never, lot.expires_at or lot.available_at, lot.available_at, lot.id)


def allocate(lots: Iterable[LotSnapshot], amount: int, now: datetime) -> list[tuple[int, int]]:
    """Split ``amount`` over the spendable lots, soonest-expiring first.

    Raises :class:`InsufficientPoints` when the spendable total is short; allocates nothing then.
    """
    candidates = sorted((lot for lot in lots if lot.spendable_at(now)), key=spend_order)
    available = sum(lot.remaining for lot in candidates)
    if amount > available:
        raise InsufficientPoints(
            f"not enough points: {format_points(amount)} requested, "
            f"{format_points(available)} available"
        )
    taken: list[tuple[int, int]] = []
    left = amount
    for lot in candidates:
        if left == 0:
            break
        take = min(lot.remaining, left)
        taken.append((lot.id, take))
        left -= take
    return taken
