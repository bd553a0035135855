"""The per-portal GCRA limiter: in memory and shared through PostgreSQL by separate pools."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.bitrix24.limiter import (
    DEFAULT_BURST,
    DEFAULT_INTERVAL,
    MemoryRateLimiter,
    PgRateLimiter,
    RateLimiter,
)
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import b24_rate_limits
from kopilka.ledger.book import ensure_portal
from tests.factories import ref


async def _grant_times(
    limiter: RateLimiter, n: int, waits: list[float] | None = None
) -> list[float]:
    """When each of ``n`` permits was granted; ``waits`` collects what each acquire waited."""
    times = []
    for _ in range(n):
        waited = await limiter.acquire()
        times.append(time.monotonic())
        if waits is not None:
            waits.append(waited)
    return times


def _max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] < t - window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def test_defaults_stay_under_the_portal_bucket() -> None:
    # ordinary plans: burst 50, draining 2 per second; we pace at the drain rate, smaller burst
    assert DEFAULT_INTERVAL == 0.5
    assert DEFAULT_BURST < 50
    with pytest.raises(ValueError, match="interval"):
        MemoryRateLimiter(interval=0, burst=1)


async def test_memory_limiter_bursts_then_paces() -> None:
    limiter = MemoryRateLimiter(interval=0.02, burst=5)
    start = time.monotonic()
    waits: list[float] = []
    times = await _grant_times(limiter, 15, waits)
    assert waits[:5] == [0.0] * 5  # the burst is immediate
    assert times[-1] - start >= 10 * 0.02 * 0.9  # then one per interval
    stats = await limiter.stats()
    assert stats.granted == 15
    assert stats.waited >= 9
    assert stats.wait_seconds > 0.15
    assert stats.rejected == 0


async def test_memory_limiter_pause_holds_everybody_and_resumes_without_burst() -> None:
    limiter = MemoryRateLimiter(interval=0.02, burst=10)
    start = time.monotonic()
    await limiter.pause(0.1)
    times = await _grant_times(limiter, 4)
    assert times[0] - start >= 0.095
    assert times[-1] - times[0] >= 0.05  # no burst right after a pause (3 intervals)
    assert (await limiter.stats()).rejected == 1


async def test_pg_limiter_creates_its_row_and_counts(
    committed_engine: AsyncEngine, portal_id: int
) -> None:
    limiter = PgRateLimiter(committed_engine, portal_id, interval=0.05, burst=5)
    assert (await limiter.stats()).granted == 0  # no row yet
    start = time.monotonic()
    waits: list[float] = []
    times = await _grant_times(limiter, 12, waits)
    assert waits[:5] == [0.0] * 5  # the burst is immediate
    assert times[-1] - start >= 7 * 0.05 * 0.95
    stats = await limiter.stats()
    assert stats.granted == 12
    assert stats.waited >= 4  # a slow round trip may land a grant without a wait
    assert stats.wait_seconds > 0.1
    assert stats.rejected == 0
    assert "PgRateLimiter(portal_id=" in repr(limiter)


async def test_pg_limiter_is_shared_by_two_pools(
    committed_engine: AsyncEngine, second_engine: AsyncEngine, portal_id: int
) -> None:
    interval, burst, per_worker = 0.03, 4, 8
    # three workers per "process", each process with its own pool and its own limiter object
    limiters = [
        PgRateLimiter(eng, portal_id, interval=interval, burst=burst)
        for eng in (committed_engine, second_engine)
        for _ in range(3)
    ]
    start = time.monotonic()
    runs = await asyncio.gather(*(_grant_times(lim, per_worker) for lim in limiters))
    times = sorted(t for run in runs for t in run)
    total = len(times)
    # after the burst, the combined rate is at most one grant per interval
    assert times[-1] - start >= (total - burst) * interval * 0.95
    # and no window of one second saw more than burst + 1/interval grants (+1 for edges)
    assert _max_in_window(times, 1.0) <= burst + 1.0 / interval + 1
    stats = await limiters[0].stats()
    assert stats.granted == total
    assert stats.waited >= total // 2


async def test_pg_pause_reaches_other_processes(
    committed_engine: AsyncEngine, second_engine: AsyncEngine, portal_id: int
) -> None:
    one = PgRateLimiter(committed_engine, portal_id, interval=0.02, burst=10)
    other = PgRateLimiter(second_engine, portal_id, interval=0.02, burst=10)
    await one.acquire()
    start = time.monotonic()
    await one.pause(0.3)  # a 503 seen by the first process
    times = await _grant_times(other, 4)
    assert times[0] - start >= 0.28  # the second process waits the pause out
    # and resumes at the pace (3 intervals after the pause), not a burst; measured from the
    # pause, since a late first wake-up (a loaded machine) may legitimately catch up
    assert times[-1] - start >= 0.3 + 0.04
    stats = await other.stats()
    assert stats.rejected == 1
    assert stats.granted == 5
    async with committed_engine.connect() as conn:
        row = (
            await conn.execute(
                select(b24_rate_limits).where(b24_rate_limits.c.portal_id == portal_id)
            )
        ).one()
    assert row.paused_until.year > 2000  # set (it starts at -infinity)


async def test_pg_limiter_portals_are_independent(
    committed_engine: AsyncEngine, portal_id: int
) -> None:
    other_portal = await run_in_transaction(
        committed_engine, lambda c: ensure_portal(c, ref("portal"))
    )
    busy = PgRateLimiter(committed_engine, portal_id, interval=1.0, burst=1)
    idle = PgRateLimiter(committed_engine, other_portal, interval=1.0, burst=1)
    await busy.acquire()
    assert await idle.acquire() == 0.0  # no wait, though the busy portal's next permit is 1 s off
    assert await busy.acquire() > 0  # which its own next request does wait for
