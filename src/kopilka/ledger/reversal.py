"""Corrections: a reversal posts the opposite of an earlier transaction and names it.

``ledger_transactions.reverses_id`` is UNIQUE, so the database itself refuses a second reversal
of the same transaction. What a reversal moves depends on what it undoes:

* an accrual takes the points back — from the lot it created, then (for the part that already
  expired) back from ``expired``, then from the customer's other spendable lots; if the customer
  spent them and has nothing left, it is refused (:class:`InsufficientPoints`), never overdrawn;
* a redemption, and the captured part of a hold, give the points back to the lots they came from;
* an expiry puts the points back into their lots (which keep their expiry date) — unless the
  reversal of their accrual has taken them back out of ``expired`` meanwhile
  (:class:`NotReversible`: they no longer exist to give back).

Holds are undone by releasing them, not by reversal.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.db.tables import ledger_entries, ledger_transactions, lots
from kopilka.domain.allocation import allocate
from kopilka.domain.errors import (
    AlreadyReversed,
    InsufficientPoints,
    NotReversible,
    UnknownTransaction,
)
from kopilka.domain.money import format_points
from kopilka.ledger import book as books
from kopilka.ledger.lots import open_lots
from kopilka.ledger.posting import Command, LegSpec, find_by_key, load_posted, post
from kopilka.ledger.types import Account, Book, Leg, Posted

REVERSIBLE = {"accrual", "redemption", "capture", "expiry"}


async def reverse(
    conn: AsyncConnection,
    book: Book,
    *,
    transaction_id: int,
    key: str,
    reason: str,
    actor: str,
    now: datetime,
    source: str = "",
) -> Posted:
    command = Command(
        kind="reversal",
        key=key,
        reason=reason,
        actor=actor,
        effective_at=now,
        source=source,
        inputs={"transaction_id": transaction_id, "source": source},
    )
    exists = await conn.scalar(
        select(ledger_transactions.c.id).where(
            ledger_transactions.c.id == transaction_id,
            ledger_transactions.c.program_id == book.program_id,
        )
    )
    if exists is None:
        raise UnknownTransaction(f"no ledger entry #{transaction_id} in this program")
    original = await load_posted(conn, transaction_id)
    command = replace(command, reference=original.reference)
    if original.kind not in REVERSIBLE:
        hint = " (release the hold instead)" if original.kind in ("hold", "release") else ""
        raise NotReversible(f"entry #{transaction_id} is a {original.kind}{hint}")
    customers = {leg.customer_id for leg in original.legs if leg.customer_id is not None}
    (customer_id,) = customers
    found = await books.accounts(conn, book, [customer_id], ["customer"])
    customer = found[("customer", customer_id)]
    await books.lock_accounts(conn, [customer.id])
    # Looked up under the lock: a concurrent twin of this request has committed by now.
    if (done := await find_by_key(conn, book, command)) is not None:
        return done
    already = await conn.scalar(
        select(ledger_transactions.c.id).where(ledger_transactions.c.reverses_id == transaction_id)
    )
    if already is not None:
        raise AlreadyReversed(f"entry #{transaction_id} was already reversed by #{already}")

    if original.kind == "accrual":
        legs = await _take_back_accrual(conn, original, customer, found, now)
    elif original.kind == "capture":
        legs = []
        for leg in original.legs:
            if leg.account_kind == "redeemed":
                legs += [
                    LegSpec(_account(leg), -leg.amount, leg.lot_id),
                    LegSpec(customer, leg.amount, leg.lot_id),
                ]
    else:  # redemption, expiry: the exact opposite, lot by lot
        if original.kind == "expiry":
            await _still_expired(conn, original, found[("expired", None)])
        legs = [LegSpec(_account(leg), -leg.amount, leg.lot_id) for leg in original.legs]
    return await post(conn, book, command, legs, reverses_id=transaction_id)


async def _still_expired(conn: AsyncConnection, original: Posted, expired: Account) -> None:
    """An expiry is undone only while its points are still expired: once the reversal of their
    accrual took them back out of ``expired``, giving them to the customer again would make
    points nobody issued (and ``expired`` negative)."""
    wanted = {leg.lot_id: leg.amount for leg in original.legs if leg.account_id == expired.id}
    rows = await conn.execute(
        select(ledger_entries.c.lot_id, func.sum(ledger_entries.c.amount))
        .where(ledger_entries.c.account_id == expired.id, ledger_entries.c.lot_id.in_(list(wanted)))
        .group_by(ledger_entries.c.lot_id)
    )
    left = {lot_id: int(total) for lot_id, total in rows}
    gone = sum(max(0, amount - left.get(lot_id, 0)) for lot_id, amount in wanted.items())
    if gone:
        raise NotReversible(
            f"entry #{original.id} cannot be undone: {format_points(gone)} of the points it "
            "expired were taken back when their accrual was reversed"
        )


def _account(leg: Leg) -> Account:
    return Account(leg.account_id, leg.account_kind, leg.customer_id)


async def _take_back_accrual(
    conn: AsyncConnection,
    original: Posted,
    customer: Account,
    found: dict[tuple[str, int | None], Account],
    now: datetime,
) -> list[LegSpec]:
    (earned,) = [leg for leg in original.legs if leg.account_id == customer.id]
    lot_id = earned.lot_id
    assert lot_id is not None
    issued, expired = found[("issued", None)], found[("expired", None)]
    in_lot = int(await conn.scalar(select(lots.c.remaining).where(lots.c.id == lot_id)) or 0)
    expired_from_lot = int(
        await conn.scalar(
            select(func.coalesce(func.sum(ledger_entries.c.amount), 0)).where(
                ledger_entries.c.account_id == expired.id, ledger_entries.c.lot_id == lot_id
            )
        )
        or 0
    )
    amount = earned.amount
    from_lot = min(in_lot, amount)
    from_expired = min(expired_from_lot, amount - from_lot)
    rest = amount - from_lot - from_expired
    legs = [LegSpec(issued, amount)]
    if from_lot:
        legs.append(LegSpec(customer, -from_lot, lot_id))
    if from_expired:
        legs.append(LegSpec(expired, -from_expired, lot_id))
    if rest:
        others = [lot for lot in await open_lots(conn, customer.id) if lot.id != lot_id]
        try:
            taken = allocate(others, rest, now)
        except InsufficientPoints:
            raise InsufficientPoints(
                f"cannot reverse entry #{original.id}: {format_points(rest)} of its "
                f"{format_points(amount)} points were already spent or are held, and the "
                "customer has not enough other points"
            ) from None
        legs += [LegSpec(customer, -take, lot) for lot, take in taken]
    return legs
