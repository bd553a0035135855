"""Pacing requests to one portal (DESIGN D6): a GCRA, in PostgreSQL or in memory.

Bitrix24 keeps one leaky bucket per portal (and source IP): burst 50, draining 2 requests per
second on ordinary plans (reference §3.1); the 51st request in a burst is refused with 503
``QUERY_LIMIT_EXCEEDED``. Every process and every machine talking to a portal therefore has to
share one pace. :class:`PgRateLimiter` keeps it in the portal's ``b24_rate_limits`` row:

* GCRA (the "generic cell rate algorithm"): ``tat`` is the theoretical arrival time of the next
  request. A request at ``now`` is granted when ``tat - now <= tau`` with
  ``tau = (burst - 1) * interval``; granting moves ``tat`` to ``max(tat, now) + interval``.
  Otherwise the caller learns how long to wait, sleeps, and asks again.
* One atomic statement per attempt (the row is locked only for that statement). Time is the
  database's ``clock_timestamp()``, so machines with skewed clocks agree.
* After a 503 :meth:`pause` sets ``paused_until`` and pushes ``tat`` so that, after the pause,
  requests resume at the sustained rate without a burst: the portal's bucket is full then.

The defaults (interval 0.5 s, burst 10) never outrun the portal's own bucket: our pace equals
its drain rate and our burst is a fifth of its threshold, which leaves room for network jitter
and for other applications sharing the bucket.

Counters in the row (for metrics): ``granted`` permits, ``waited`` permits that had to wait,
``wait_seconds`` spent waiting, ``rejected`` 503 refusals reported through :meth:`pause`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.db.tables import b24_rate_limits

DEFAULT_INTERVAL = 0.5
DEFAULT_BURST = 10


@dataclass(frozen=True)
class LimiterStats:
    granted: int
    waited: int
    wait_seconds: float
    rejected: int


class RateLimiter(Protocol):
    async def acquire(self) -> float:
        """Wait for a permit; return the seconds waited."""

    async def pause(self, seconds: float) -> None:
        """The portal refused a request (503): nobody sends anything for ``seconds``."""

    async def stats(self) -> LimiterStats: ...


def _check(interval: float, burst: int) -> None:
    if interval <= 0 or burst < 1:
        raise ValueError("interval must be > 0 and burst >= 1")


_ACQUIRE = text("""
WITH cur AS (
    SELECT portal_id, tat, paused_until, clock_timestamp() AS now
    FROM b24_rate_limits WHERE portal_id = :portal_id FOR UPDATE
), d AS (
    SELECT portal_id,
           GREATEST(tat, now) AS base,
           GREATEST(
               EXTRACT(EPOCH FROM GREATEST(paused_until, now) - now),  -- no infinite arithmetic
               EXTRACT(EPOCH FROM GREATEST(tat, now) - now) - :tau,
               0
           ) AS wait
    FROM cur
)
UPDATE b24_rate_limits AS r SET
    tat = CASE WHEN d.wait = 0 THEN d.base + make_interval(secs => :interval) ELSE r.tat END,
    granted = r.granted + CASE WHEN d.wait = 0 THEN 1 ELSE 0 END,
    waited = r.waited + CASE WHEN d.wait = 0 AND :waited > 0 THEN 1 ELSE 0 END,
    wait_seconds = r.wait_seconds + CASE WHEN d.wait = 0 THEN :waited ELSE 0 END
FROM d WHERE r.portal_id = d.portal_id
RETURNING d.wait::float8
""")

_PAUSE = text("""
UPDATE b24_rate_limits SET
    paused_until = GREATEST(paused_until, clock_timestamp() + make_interval(secs => :seconds)),
    tat = GREATEST(tat, clock_timestamp() + make_interval(secs => :seconds + :tau)),
    rejected = rejected + 1
WHERE portal_id = :portal_id
""")


class PgRateLimiter:
    """The portal's pace, shared by every process through its ``b24_rate_limits`` row."""

    def __init__(
        self,
        engine: AsyncEngine,
        portal_id: int,
        *,
        interval: float = DEFAULT_INTERVAL,
        burst: int = DEFAULT_BURST,
    ) -> None:
        _check(interval, burst)
        self.engine = engine
        self.portal_id = portal_id
        self.interval = interval
        self.burst = burst
        self._tau = (burst - 1) * interval
        self._row_ready = False

    def __repr__(self) -> str:
        return (
            f"PgRateLimiter(portal_id={self.portal_id}, interval={self.interval}, "
            f"burst={self.burst})"
        )

    async def _ensure_row(self) -> None:
        if self._row_ready:
            return
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(b24_rate_limits)
                .values(portal_id=self.portal_id)
                .on_conflict_do_nothing(index_elements=["portal_id"])
            )
        self._row_ready = True

    async def acquire(self) -> float:
        await self._ensure_row()
        waited = 0.0
        while True:
            params = {
                "portal_id": self.portal_id,
                "tau": self._tau,
                "interval": self.interval,
                "waited": waited,
            }
            async with self.engine.begin() as conn:
                wait = (await conn.execute(_ACQUIRE, params)).scalar_one()
            if wait <= 0:
                return waited
            started = time.monotonic()
            await asyncio.sleep(wait)
            waited += time.monotonic() - started

    async def pause(self, seconds: float) -> None:
        await self._ensure_row()
        async with self.engine.begin() as conn:
            await conn.execute(
                _PAUSE, {"portal_id": self.portal_id, "seconds": seconds, "tau": self._tau}
            )

    async def stats(self) -> LimiterStats:
        t = b24_rate_limits.c  # paused_until may be -infinity, which Python cannot hold
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(t.granted, t.waited, t.wait_seconds, t.rejected).where(
                        t.portal_id == self.portal_id
                    )
                )
            ).first()
        if row is None:
            return LimiterStats(0, 0, 0.0, 0)
        return LimiterStats(row.granted, row.waited, row.wait_seconds, row.rejected)


class MemoryRateLimiter:
    """The same GCRA for one process (a script, a test, a caller without a database)."""

    def __init__(self, *, interval: float = DEFAULT_INTERVAL, burst: int = DEFAULT_BURST) -> None:
        _check(interval, burst)
        self.interval = interval
        self.burst = burst
        self._tau = (burst - 1) * interval
        self._tat = 0.0
        self._paused_until = 0.0
        self._granted = self._waited = self._rejected = 0
        self._wait_seconds = 0.0

    def __repr__(self) -> str:
        return f"MemoryRateLimiter(interval={self.interval}, burst={self.burst})"

    def _try(self, waited: float) -> float:
        now = time.monotonic()
        base = max(self._tat, now)
        wait = max(self._paused_until - now, base - now - self._tau, 0.0)
        if wait == 0.0:
            self._tat = base + self.interval
            self._granted += 1
            if waited > 0:
                self._waited += 1
                self._wait_seconds += waited
        return wait

    async def acquire(self) -> float:
        waited = 0.0
        while (wait := self._try(waited)) > 0:
            started = time.monotonic()
            await asyncio.sleep(wait)
            waited += time.monotonic() - started
        return waited

    async def pause(self, seconds: float) -> None:
        now = time.monotonic()
        self._paused_until = max(self._paused_until, now + seconds)
        self._tat = max(self._tat, now + seconds + self._tau)
        self._rejected += 1

    async def stats(self) -> LimiterStats:
        return LimiterStats(self._granted, self._waited, self._wait_seconds, self._rejected)


__all__ = [
    "DEFAULT_BURST",
    "DEFAULT_INTERVAL",
    "LimiterStats",
    "MemoryRateLimiter",
    "PgRateLimiter",
    "RateLimiter",
]
