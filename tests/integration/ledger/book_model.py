"""A plain-Python book kept beside the real ledger by the property test.

It restates the rules of docs/ledger.md with dicts and ints — lots with availability and
expiry, soonest-expiring spent first, holds per lot, reversals lot by lot — and never asks the
ledger anything: each command says whether it must succeed (or which refusal it must get) and
what every lot, hold and system account must hold afterwards. Real ledger ids (transactions,
holds) are only used as names to find the model's own record again.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from kopilka.domain.errors import (
    AlreadyReversed,
    Conflict,
    HoldNotActive,
    InsufficientPoints,
    NotReversible,
)


@dataclass
class Lot:
    customer: int
    amount: int
    available_at: datetime
    expires_at: datetime | None
    remaining: int

    def spendable(self, now: datetime) -> bool:
        return (
            self.remaining > 0
            and self.available_at <= now
            and (self.expires_at is None or now < self.expires_at)
        )


@dataclass
class Hold:
    customer: int
    amount: int
    expires_at: datetime
    by_lot: dict[int, int]
    status: str = "active"
    captured: int = 0


@dataclass
class Tx:
    """What a posted transaction moved, lot by lot, as the model booked it."""

    kind: str
    lot: int | None = None  # an accrual's own lot
    amount: int = 0  # an accrual's amount
    by_lot: dict[int, int] = field(default_factory=dict)  # to redeemed or expired, per lot


class Refused(Exception):
    """The model refuses the command: the real ledger must raise ``expected``."""

    def __init__(self, expected: type[Conflict]) -> None:
        super().__init__(expected.__name__)
        self.expected = expected


@dataclass
class BookModel:
    lots: list[Lot] = field(default_factory=list)  # in creation order (= real lot id order)
    holds: dict[int, Hold] = field(default_factory=dict)  # by the real hold id
    txs: dict[int, Tx] = field(default_factory=dict)  # by the real transaction id
    reversed: set[int] = field(default_factory=set)
    issued: int = 0
    redeemed: int = 0
    expired_by_lot: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    # -- figures ---------------------------------------------------------------------------
    @property
    def expired(self) -> int:
        return sum(self.expired_by_lot.values())

    def held(self, customer: int) -> int:
        return sum(
            sum(h.by_lot.values())
            for h in self.holds.values()
            if h.customer == customer and h.status == "active"
        )

    def figures(self, customer: int, now: datetime) -> tuple[int, int, int, int]:
        """(total, available, pending, held) as the balance query must report them."""
        mine = [lot for lot in self.lots if lot.customer == customer]
        total = sum(lot.remaining for lot in mine)
        available = sum(lot.remaining for lot in mine if lot.spendable(now))
        pending = sum(lot.remaining for lot in mine if lot.available_at > now)
        return total, available, pending, self.held(customer)

    # -- commands: each either books its effect or raises Refused, booking nothing ---------
    def accrue(
        self, customer: int, amount: int, available_at: datetime, expires_at: datetime | None
    ) -> int:
        self.lots.append(Lot(customer, amount, available_at, expires_at, amount))
        self.issued += amount
        return len(self.lots) - 1

    def take(
        self, customer: int, amount: int, now: datetime, *, skip: int | None = None
    ) -> dict[int, int]:
        """Which lots pay: soonest expiry first, never-expiring last, then oldest first."""
        candidates = sorted(
            (
                i
                for i, lot in enumerate(self.lots)
                if lot.customer == customer and lot.spendable(now) and i != skip
            ),
            key=lambda i: (
                self.lots[i].expires_at is None,
                self.lots[i].expires_at or self.lots[i].available_at,
                self.lots[i].available_at,
                i,
            ),
        )
        if sum(self.lots[i].remaining for i in candidates) < amount:
            raise Refused(InsufficientPoints)
        taken: dict[int, int] = {}
        left = amount
        for i in candidates:
            if left == 0:
                break
            taken[i] = min(self.lots[i].remaining, left)
            left -= taken[i]
        for i, n in taken.items():
            self.lots[i].remaining -= n
        return taken

    def redeem(self, customer: int, amount: int, now: datetime) -> Tx:
        taken = self.take(customer, amount, now)
        self.redeemed += amount
        return Tx("redemption", by_lot=taken)

    def place_hold(self, customer: int, amount: int, now: datetime, expires_at: datetime) -> Hold:
        return Hold(customer, amount, expires_at, self.take(customer, amount, now))

    def _active(self, hold_id: int) -> Hold:
        hold = self.holds[hold_id]
        if hold.status != "active":
            raise Refused(HoldNotActive)
        return hold

    def capture(self, hold_id: int, amount: int | None) -> Tx:
        hold = self._active(hold_id)
        left = hold.amount if amount is None else amount
        hold.captured = left
        captured: dict[int, int] = {}
        order = sorted(
            hold.by_lot, key=lambda i: (self.lots[i].expires_at is None, self.lots[i].expires_at, i)
        )
        for i in order:
            n = min(hold.by_lot[i], left)
            left -= n
            if n:
                captured[i] = n
            self.lots[i].remaining += hold.by_lot[i] - n
        self.redeemed += hold.captured
        hold.status = "captured"
        return Tx("capture", by_lot=captured)

    def release(self, hold_id: int, status: str = "released") -> Tx:
        hold = self._active(hold_id)
        for i, n in hold.by_lot.items():
            self.lots[i].remaining += n
        hold.status = status
        return Tx("release")

    def due_holds(self, now: datetime) -> list[int]:
        return sorted(
            h
            for h, hold in self.holds.items()
            if hold.status == "active" and hold.expires_at <= now
        )

    def expire(self, customer: int, now: datetime) -> list[Tx | None]:
        """One expiry per expiry instant, soonest first: whatever is left in due lots, every
        time — points that came back into an expired lot (a released hold) expire again, even
        when as many came back as expired before. (A replay, None, happens only when a run is
        repeated with nothing new, which the sequential test never does.)"""
        groups: dict[datetime, list[int]] = defaultdict(list)
        for i, lot in enumerate(self.lots):
            if lot.customer == customer and lot.remaining > 0 and lot.expires_at is not None:
                if lot.expires_at <= now:
                    groups[lot.expires_at].append(i)
        out: list[Tx | None] = []
        for due_at in sorted(groups):
            moved = {i: self.lots[i].remaining for i in groups[due_at]}
            for i, n in moved.items():
                self.lots[i].remaining = 0
                self.expired_by_lot[i] += n
            out.append(Tx("expiry", by_lot=moved))
        return out

    def due_customers(self, now: datetime) -> set[int]:
        return {
            lot.customer
            for lot in self.lots
            if lot.remaining > 0 and lot.expires_at is not None and lot.expires_at <= now
        }

    def undoes_reversed_points(self, tx_id: int) -> bool:
        """An expiry some of whose points have since left ``expired`` (the reversal of their
        accrual took them back): undoing it would give the customer points nobody issued, so
        it is refused (it once went through — found by this model, issue 22)."""
        tx = self.txs[tx_id]
        return (
            tx.kind == "expiry"
            and tx_id not in self.reversed
            and any(self.expired_by_lot[i] < n for i, n in tx.by_lot.items())
        )

    def reverse(self, tx_id: int, now: datetime) -> Tx:
        tx = self.txs[tx_id]
        if tx.kind not in ("accrual", "redemption", "capture", "expiry"):
            raise Refused(NotReversible)
        if tx_id in self.reversed:
            raise Refused(AlreadyReversed)
        if self.undoes_reversed_points(tx_id):
            raise Refused(NotReversible)
        if tx.kind == "accrual":
            assert tx.lot is not None
            lot = self.lots[tx.lot]
            from_lot = min(lot.remaining, tx.amount)
            from_expired = min(self.expired_by_lot[tx.lot], tx.amount - from_lot)
            rest = tx.amount - from_lot - from_expired
            if rest:  # raises (booking nothing) before anything below is booked
                self.take(lot.customer, rest, now, skip=tx.lot)
            lot.remaining -= from_lot
            self.expired_by_lot[tx.lot] -= from_expired
            self.issued -= tx.amount
        else:
            for i, n in tx.by_lot.items():
                self.lots[i].remaining += n
                if tx.kind == "expiry":
                    self.expired_by_lot[i] -= n
                else:
                    self.redeemed -= n
        self.reversed.add(tx_id)
        return Tx("reversal")
