"""Spending points: direct redemption, and holds that are captured or released.

A redemption moves points ``customer → redeemed``. A hold moves them ``customer → held`` so that
they cannot be spent twice while a deal is open; capturing moves the captured part
``held → redeemed`` and gives the rest back; releasing gives all back. Every leg names the lot
the points came from, so a release or a refund returns them to the very lots (and expiry dates)
they were taken from. Spending locks the customer's account row first: concurrent spends on one
account run one after another and each sees the others' result.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.db.tables import accounts, holds, ledger_entries, ledger_transactions, lots
from kopilka.domain.allocation import allocate
from kopilka.domain.errors import (
    HoldNotActive,
    InsufficientPoints,
    InvalidAmount,
    InvalidCommand,
    UnknownHold,
)
from kopilka.ledger import book as books
from kopilka.ledger import server
from kopilka.ledger.lots import open_lots
from kopilka.ledger.posting import (
    Command,
    LegSpec,
    find_by_key,
    post,
)
from kopilka.ledger.types import Account, Book, HoldView, Posted


@dataclass(frozen=True, slots=True)
class RedemptionRequest:
    customer_id: int
    amount: int
    key: str
    reason: str
    actor: str
    now: datetime
    source: str = ""
    reference: str = ""

    def command(self) -> Command:
        if self.amount <= 0:
            raise InvalidAmount("a redemption must be greater than zero")
        return Command(
            kind="redemption",
            key=self.key,
            reason=self.reason,
            actor=self.actor,
            effective_at=self.now,
            source=self.source,
            reference=self.reference,
            inputs={"customer_id": self.customer_id, "amount": self.amount, "source": self.source},
        )


async def redeem_many(
    conn: AsyncConnection, book: Book, requests: Sequence[RedemptionRequest]
) -> list[Posted | InsufficientPoints]:
    """Post redemptions in one statement (the server-side ``ledger_redeem``); one that the
    customer cannot afford comes back as an error in its place (and writes nothing), the others
    are posted. Replays return their original."""
    commands = [r.command() for r in requests]
    if not commands:
        return []
    params = server.redemption_params(
        book, [r.customer_id for r in requests], [r.amount for r in requests], commands
    )
    rows = (await conn.exec_driver_sql(server.REDEEM, params)).all()
    return server.outcomes(rows, commands)


async def redeem(
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
    reference: str = "",
) -> Posted:
    request = RedemptionRequest(customer_id, amount, key, reason, actor, now, source, reference)
    (result,) = await redeem_many(conn, book, [request])
    if isinstance(result, InsufficientPoints):
        raise result
    return result


async def place_hold(
    conn: AsyncConnection,
    book: Book,
    *,
    customer_id: int,
    amount: int,
    key: str,
    reason: str,
    actor: str,
    now: datetime,
    expires_at: datetime,
    reference: str = "",
    source: str = "",
) -> HoldView:
    if amount <= 0:
        raise InvalidAmount("a hold must be greater than zero")
    if expires_at <= now:
        raise InvalidCommand("a hold must expire in the future")
    command = Command(
        kind="hold",
        key=key,
        reason=reason,
        actor=actor,
        effective_at=now,
        source=source,
        inputs={
            "customer_id": customer_id,
            "amount": amount,
            "reference": reference,
            "expires_at": expires_at.isoformat(),
            "source": source,
        },
    )
    found = await books.accounts(conn, book, [customer_id], ["customer", "held"])
    customer, held = found[("customer", customer_id)], found[("held", customer_id)]
    await books.lock_accounts(conn, [customer.id])
    # Looked up under the lock: a concurrent twin of this request has committed by now.
    if (done := await find_by_key(conn, book, command)) is not None:
        assert done.hold_id is not None
        return await get_hold(conn, book, done.hold_id, replayed=True)
    taken = allocate(await open_lots(conn, customer.id), amount, now)
    hold_id = await conn.scalar(
        insert(holds)
        .values(
            portal_id=book.portal_id,
            account_id=customer.id,
            amount=amount,
            reference=reference,
            expires_at=expires_at,
        )
        .returning(holds.c.id)
    )
    assert hold_id is not None
    legs = [LegSpec(customer, -take, lot) for lot, take in taken]
    legs += [LegSpec(held, take, lot) for lot, take in taken]
    await post(conn, book, command, legs, hold_id=int(hold_id))
    return await get_hold(conn, book, int(hold_id))


async def capture_hold(
    conn: AsyncConnection,
    book: Book,
    *,
    hold_id: int,
    key: str,
    actor: str,
    now: datetime,
    amount: int | None = None,
    reason: str = "hold captured",
    source: str = "",
) -> Posted:
    """Capture ``amount`` (default: all) of an active hold; the rest goes back to the customer."""
    command = Command(
        kind="capture",
        key=key,
        reason=reason,
        actor=actor,
        effective_at=now,
        source=source,
        inputs={"hold_id": hold_id, "amount": amount, "source": source},
    )
    locked = await _lock_active_hold(conn, book, hold_id, command)
    if isinstance(locked, Posted):
        return locked
    hold, customer, held, by_lot = locked
    command = replace(command, reference=hold.reference)
    capture = hold.amount if amount is None else amount
    if capture <= 0 or capture > hold.amount:
        raise InvalidAmount(
            f"a capture must be between 0 and the hold's {hold.amount} (got {capture})"
        )
    redeemed = await books.account(conn, book, "redeemed")
    legs: list[LegSpec] = []
    left = capture
    for lot, held_here in by_lot:
        take = min(held_here, left)
        left -= take
        if take:
            legs += [LegSpec(held, -take, lot), LegSpec(redeemed, take, lot)]
        if held_here - take:
            legs += [
                LegSpec(held, -(held_here - take), lot),
                LegSpec(customer, held_here - take, lot),
            ]
    posted = await post(conn, book, command, legs, hold_id=hold_id)
    await _close_hold(conn, hold_id, "captured", now, captured=capture)
    return posted


async def release_hold(
    conn: AsyncConnection,
    book: Book,
    *,
    hold_id: int,
    key: str,
    actor: str,
    now: datetime,
    reason: str = "hold released",
    source: str = "",
    status: str = "released",
) -> Posted:
    command = Command(
        kind="release",
        key=key,
        reason=reason,
        actor=actor,
        effective_at=now,
        source=source,
        inputs={"hold_id": hold_id, "source": source},
    )
    locked = await _lock_active_hold(conn, book, hold_id, command)
    if isinstance(locked, Posted):
        return locked
    hold, customer, held, by_lot = locked
    command = replace(command, reference=hold.reference)
    legs: list[LegSpec] = []
    for lot, held_here in by_lot:
        legs += [LegSpec(held, -held_here, lot), LegSpec(customer, held_here, lot)]
    posted = await post(conn, book, command, legs, hold_id=hold_id)
    await _close_hold(conn, hold_id, status, now)
    return posted


async def expire_holds(conn: AsyncConnection, book: Book, *, now: datetime) -> list[Posted]:
    """Release every active hold whose TTL has passed (status ``expired``)."""
    due = await conn.scalars(
        select(holds.c.id)
        .join(ledger_transactions, ledger_transactions.c.hold_id == holds.c.id)
        .where(
            holds.c.portal_id == book.portal_id,
            holds.c.status == "active",
            holds.c.expires_at <= now,
            ledger_transactions.c.program_id == book.program_id,
            ledger_transactions.c.kind == "hold",
        )
        .order_by(holds.c.id)
    )
    return [
        await release_hold(
            conn,
            book,
            hold_id=hold_id,
            key=f"hold:{hold_id}:expire",
            actor="system",
            now=now,
            reason="hold expired",
            status="expired",
        )
        for hold_id in due.all()
    ]


async def get_hold(
    conn: AsyncConnection, book: Book, hold_id: int, *, replayed: bool = False
) -> HoldView:
    placed = ledger_transactions
    row = (
        await conn.execute(
            select(holds, placed.c.reason)
            .outerjoin(placed, (placed.c.hold_id == holds.c.id) & (placed.c.kind == "hold"))
            .where(holds.c.id == hold_id, holds.c.portal_id == book.portal_id)
        )
    ).one_or_none()
    if row is None:
        raise UnknownHold(f"no hold #{hold_id}")
    return HoldView(
        int(row.id),
        int(row.account_id),
        int(row.amount),
        int(row.captured),
        row.status,
        row.reference,
        row.expires_at,
        row.created_at,
        row.closed_at,
        row.reason or "",
        replayed,
    )


async def _lock_active_hold(
    conn: AsyncConnection, book: Book, hold_id: int, command: Command
) -> Posted | tuple[HoldView, Account, Account, list[tuple[int, int]]]:
    """Lock the hold's customer account; then ``command``'s earlier result if it ran before
    (looked up under the lock, so a concurrent twin is seen), else what the active hold holds,
    lot by lot."""
    hold = await get_hold(conn, book, hold_id)
    customer_id = await conn.scalar(
        select(accounts.c.customer_id).where(accounts.c.id == hold.account_id)
    )
    assert customer_id is not None
    found = await books.accounts(conn, book, [customer_id], ["customer", "held"])
    customer, held = found[("customer", customer_id)], found[("held", customer_id)]
    await books.lock_accounts(conn, [customer.id])
    if (done := await find_by_key(conn, book, command)) is not None:
        return done
    status = await conn.scalar(
        select(holds.c.status).where(holds.c.id == hold_id).with_for_update()
    )
    if status != "active":
        raise HoldNotActive(f"hold #{hold_id} is {status}, not active")
    rows = await conn.execute(
        select(ledger_entries.c.lot_id, func.sum(ledger_entries.c.amount).label("amount"))
        .join(ledger_transactions, ledger_transactions.c.id == ledger_entries.c.transaction_id)
        .join(lots, lots.c.id == ledger_entries.c.lot_id)
        .where(ledger_transactions.c.hold_id == hold_id, ledger_entries.c.account_id == held.id)
        .group_by(ledger_entries.c.lot_id, lots.c.expires_at, lots.c.id)
        .order_by(lots.c.expires_at.asc().nulls_last(), lots.c.id)
    )
    by_lot: dict[int, int] = defaultdict(int)
    for r in rows:
        if r.amount:
            by_lot[int(r.lot_id)] += int(r.amount)
    return hold, customer, held, list(by_lot.items())


async def _close_hold(
    conn: AsyncConnection, hold_id: int, status: str, now: datetime, *, captured: int = 0
) -> None:
    await conn.execute(
        update(holds)
        .where(holds.c.id == hold_id)
        .values(status=status, captured=captured, closed_at=now)
    )
