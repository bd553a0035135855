"""Requests to ``/b24/*`` that failed their proof: logged and recorded, within bounds.

Every rejection is worth knowing about (a forged event, a broken outgoing webhook's token), but
the traffic that causes them is unauthenticated, so what it may write is bounded: each source
address gets ``per_source`` recorded rejections a minute and all sources together ``overall``;
beyond that a rejection is only counted, and the count is logged once when the minute turns.
The table keeps the newest ``kept`` rows (pruned as it grows).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import b24_rejected_events

log = logging.getLogger("kopilka.bitrix24.events")
WINDOW = 60.0
PRUNE_EVERY = 100  # rows


@dataclass
class RejectionBudget:
    per_source: int = 20
    overall: int = 200
    kept: int = 10_000
    clock: float = field(default_factory=time.monotonic)
    counts: dict[str, int] = field(default_factory=dict)
    total: int = 0
    suppressed: int = 0

    def admit(self, remote: str) -> bool:
        """Whether this rejection may be written (and logged) now."""
        now = time.monotonic()
        if now - self.clock >= WINDOW:
            if self.suppressed:
                log.warning("%d more rejected Bitrix24 requests this minute", self.suppressed)
            self.clock, self.counts, self.total, self.suppressed = now, {}, 0, 0
        seen = self.counts.get(remote, 0)
        if seen >= self.per_source or self.total >= self.overall:
            self.suppressed += 1
            return False
        self.counts[remote] = seen + 1
        self.total += 1
        return True


async def record_rejection(
    engine: AsyncEngine,
    budget: RejectionBudget,
    *,
    member_id: str,
    event: str,
    reason: str,
    remote: str,
) -> None:
    if not budget.admit(remote):
        return
    member_id, event = member_id[:64], event[:64]

    async def record(conn: AsyncConnection) -> None:
        row_id = await conn.scalar(
            insert(b24_rejected_events)
            .values(member_id=member_id, event=event, reason=reason, remote=remote[:64])
            .returning(b24_rejected_events.c.id)
        )
        if row_id % PRUNE_EVERY == 0:
            await conn.execute(
                delete(b24_rejected_events).where(b24_rejected_events.c.id <= row_id - budget.kept)
            )

    await run_in_transaction(engine, record)
    log.warning(
        "rejected Bitrix24 event %r for member %r from %s: %s", event, member_id, remote, reason
    )
