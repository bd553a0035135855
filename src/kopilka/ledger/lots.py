"""Reading a customer's open lots (call with the account row locked when spending)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.db.tables import lots
from kopilka.domain.allocation import LotSnapshot


async def open_lots(conn: AsyncConnection, account_id: int) -> list[LotSnapshot]:
    rows = await conn.execute(
        select(lots.c.id, lots.c.remaining, lots.c.available_at, lots.c.expires_at).where(
            lots.c.account_id == account_id, lots.c.remaining > 0
        )
    )
    return [LotSnapshot(int(r.id), int(r.remaining), r.available_at, r.expires_at) for r in rows]


async def open_lots_many(
    conn: AsyncConnection, account_ids: list[int]
) -> dict[int, list[LotSnapshot]]:
    found: dict[int, list[LotSnapshot]] = {account_id: [] for account_id in account_ids}
    rows = await conn.execute(
        select(
            lots.c.id, lots.c.account_id, lots.c.remaining, lots.c.available_at, lots.c.expires_at
        ).where(lots.c.account_id.in_(account_ids), lots.c.remaining > 0)
    )
    for r in rows:
        found[int(r.account_id)].append(
            LotSnapshot(int(r.id), int(r.remaining), r.available_at, r.expires_at)
        )
    return found
