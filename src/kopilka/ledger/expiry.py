"""The expiry run: every lot past its ``expires_at`` is moved ``customer → expired``.

One transaction per (account, expiry instant), effective at that instant, so a run that happens
late (the service was down over New Year) books the expiry when it was due, and exactly once: the
account row is locked and only lots still holding points are expired.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import accounts, ledger_entries, lots
from kopilka.domain.allocation import LotSnapshot
from kopilka.domain.texts import say
from kopilka.ledger import book as books
from kopilka.ledger.lots import open_lots_many
from kopilka.ledger.posting import Command, LegSpec, Posting, post_many
from kopilka.ledger.types import Account, Book, Posted


async def due_accounts(conn: AsyncConnection, book: Book, now: datetime) -> list[int]:
    rows = await conn.scalars(
        select(lots.c.account_id)
        .join(accounts, accounts.c.id == lots.c.account_id)
        .where(
            accounts.c.program_id == book.program_id, lots.c.remaining > 0, lots.c.expires_at <= now
        )
        .distinct()
        .order_by(lots.c.account_id)
    )
    return [int(r) for r in rows]


EXPIRY_BATCH = 200  # accounts per transaction
#: transactions at once: two batches never share an account, and the program's `expired`
#: account carries no cached balance, so they share no row; the server works on one while
#: Python builds the next (measured: bench/expiry, issue 21)
EXPIRY_WORKERS = 2


async def expire_due(
    engine: AsyncEngine,
    book: Book,
    account_ids: Sequence[int],
    *,
    now: datetime,
    actor: str = "system",
    done: Callable[[int, list[Posted]], None] | None = None,
) -> list[Posted]:
    """Expire the due lots of these accounts, :data:`EXPIRY_BATCH` accounts a transaction,
    :data:`EXPIRY_WORKERS` transactions at once; ``done(accounts, posted)`` after each."""
    batches = iter(
        [list(account_ids[i : i + EXPIRY_BATCH]) for i in range(0, len(account_ids), EXPIRY_BATCH)]
    )
    posted: list[Posted] = []

    async def worker() -> None:
        for batch in batches:  # one iterator shared by the workers: each batch is taken once

            async def unit(conn: AsyncConnection, batch: list[int] = batch) -> list[Posted]:
                return await expire_accounts(conn, book, batch, now=now, actor=actor)

            these = await run_in_transaction(engine, unit)
            posted.extend(these)
            if done is not None:
                done(len(batch), these)

    await asyncio.gather(*(worker() for _ in range(EXPIRY_WORKERS)))
    return posted


async def expire_accounts(
    conn: AsyncConnection,
    book: Book,
    account_ids: Sequence[int],
    *,
    now: datetime,
    actor: str = "system",
) -> list[Posted]:
    """Expire the due lots of these customer accounts, all in one batch of postings."""
    owners = {
        int(r.id): int(r.customer_id)
        for r in await conn.execute(
            select(accounts.c.id, accounts.c.customer_id).where(
                accounts.c.id.in_(list(account_ids)),
                accounts.c.program_id == book.program_id,
                accounts.c.kind == "customer",
            )
        )
    }
    if not owners:
        return []
    found = await books.accounts(conn, book, owners.values(), ["customer"])
    expired = found[("expired", None)]
    await books.lock_accounts(conn, owners)
    postings = []
    due = {
        account_id: [lot for lot in open_lots if lot.expires_at and lot.expires_at <= now]
        for account_id, open_lots in (await open_lots_many(conn, sorted(owners))).items()
    }
    seen = await _entries_per_lot(conn, [lot.id for lots_ in due.values() for lot in lots_])
    for account_id, due_lots in due.items():
        customer = found[("customer", owners[account_id])]
        groups: dict[datetime, list[LotSnapshot]] = defaultdict(list)
        for lot in due_lots:
            assert lot.expires_at is not None
            groups[lot.expires_at].append(lot)
        for due_at in sorted(groups):
            group = sorted(groups[due_at], key=lambda lot: lot.id)
            postings.append(_expiry(book, customer, expired, due_at, group, seen, actor))
    return await post_many(conn, book, postings)


async def _entries_per_lot(conn: AsyncConnection, lot_ids: list[int]) -> dict[int, int]:
    """How many ledger entries each lot has: its history's length, which anything done to the
    lot (spent, held, released, expired, reversed) lengthens."""
    if not lot_ids:
        return {}
    rows = await conn.execute(
        select(ledger_entries.c.lot_id, func.count())
        .where(ledger_entries.c.lot_id.in_(lot_ids))
        .group_by(ledger_entries.c.lot_id)
    )
    return {int(lot_id): int(n) for lot_id, n in rows}


async def expire_account(
    conn: AsyncConnection, book: Book, account_id: int, *, now: datetime, actor: str = "system"
) -> list[Posted]:
    return await expire_accounts(conn, book, [account_id], now=now, actor=actor)


def _expiry(
    book: Book,
    customer: Account,
    expired: Account,
    due_at: datetime,
    group: list[LotSnapshot],
    seen: dict[int, int],
    actor: str,
) -> Posting:
    # The key names what is expired and each lot's history so far: a re-run after a crash (no
    # new entries) replays it; points that came back into an expired lot later (a released
    # hold, a reversed expiry) come with new entries, make a new key and expire in turn — even
    # when as many come back as expired before.
    digest = hashlib.sha256(
        ",".join(f"{lot.id}:{lot.remaining}:{seen.get(lot.id, 0)}" for lot in group).encode()
    ).hexdigest()[:16]
    local = due_at.astimezone(book.timezone)
    command = Command(
        kind="expiry",
        key=f"expiry:{customer.id}:{due_at.isoformat()}:{digest}",
        reason=say("ru", "reason.expired", at=f"{local:%d.%m.%Y %H:%M}"),
        actor=actor,
        effective_at=due_at,
        inputs={"account_id": customer.id, "lots": [[lot.id, lot.remaining] for lot in group]},
        rule_inputs={"expires_at": due_at.isoformat(), "lots": [lot.id for lot in group]},
    )
    legs = [LegSpec(customer, -lot.remaining, lot.id) for lot in group]
    legs += [LegSpec(expired, lot.remaining, lot.id) for lot in group]
    return Posting(command, legs)
