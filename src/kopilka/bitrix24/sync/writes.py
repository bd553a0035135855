"""Step 4, write back: a deal's planned outcome (:mod:`.plan`) stored in one go for many deals —
the snapshots, the contacts' shares (replaced), and the portal writes queued in the outbox (sent
later in full batches, ``kopilka.bitrix24.outbox``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24 import outbox
from kopilka.bitrix24.sync.plan import Outcome
from kopilka.bitrix24.sync.seen import store_snapshots
from kopilka.db.tables import b24_deal_shares


async def record_outcomes(
    conn: AsyncConnection, portal_id: int, outcomes: Sequence[Outcome]
) -> None:
    if not outcomes:
        return
    await store_snapshots(conn, portal_id, [o.snapshot for o in outcomes])
    await conn.execute(
        delete(b24_deal_shares).where(
            b24_deal_shares.c.portal_id == portal_id,
            b24_deal_shares.c.deal_id.in_([o.deal_id for o in outcomes]),
        )
    )
    shares = [{"portal_id": portal_id, **row} for o in outcomes for row in o.shares]
    if shares:
        await conn.execute(insert(b24_deal_shares).values(shares))
    await outbox.queue_writes(conn, portal_id, [w for o in outcomes for w in o.writes])
