"""The expiry run: every lot past its ``expires_at`` is moved ``customer → expired``.

One transaction per (account, expiry instant), effective at that instant, so a run that happens
late (the service was down over New Year) books the expiry when it was due, and exactly once: the
account row is locked and only lots still holding points are expired.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.db.tables import accounts, lots
from kopilka.domain.allocation import LotSnapshot
from kopilka.ledger import book as books
from kopilka.ledger.lots import open_lots
from kopilka.ledger.posting import Command, LegSpec, find_by_key, post
from kopilka.ledger.types import Book, Posted


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


async def expire_account(
    conn: AsyncConnection, book: Book, account_id: int, *, now: datetime, actor: str = "system"
) -> list[Posted]:
    customer_id = await conn.scalar(
        select(accounts.c.customer_id).where(
            accounts.c.id == account_id, accounts.c.program_id == book.program_id
        )
    )
    if customer_id is None:
        return []
    await books.account_id(conn, book, "customer", customer_id, lock=True)
    expired = await books.account_id(conn, book, "expired")
    groups: dict[datetime, list[LotSnapshot]] = defaultdict(list)
    for lot in await open_lots(conn, account_id):
        if lot.expires_at is not None and lot.expires_at <= now:
            groups[lot.expires_at].append(lot)
    posted = []
    for due_at in sorted(groups):
        group = sorted(groups[due_at], key=lambda lot: lot.id)
        digest = hashlib.sha256(
            ",".join(f"{lot.id}:{lot.remaining}" for lot in group).encode()
        ).hexdigest()[:16]
        command = Command(
            kind="expiry",
            key=f"expiry:{account_id}:{due_at.isoformat()}:{digest}",
            reason=f"баллы сгорели: срок истёк {due_at.astimezone(book.timezone):%d.%m.%Y %H:%M}",
            actor=actor,
            effective_at=due_at,
            inputs={"account_id": account_id, "lots": [[lot.id, lot.remaining] for lot in group]},
            rule_inputs={"expires_at": due_at.isoformat(), "lots": [lot.id for lot in group]},
        )
        if (done := await find_by_key(conn, book, command)) is not None:
            posted.append(done)
            continue
        legs = [LegSpec(account_id, -lot.remaining, lot.id) for lot in group]
        legs += [LegSpec(expired, lot.remaining, lot.id) for lot in group]
        posted.append(await post(conn, book, command, legs))
    return posted
