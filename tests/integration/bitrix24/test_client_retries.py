"""What the client retries and what it does not, against the b24emu portal: 503 storms, pacing
under the portal's bucket, 429 operating limits, 500s and transport errors."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

import b24emu.limits
from b24emu import Faults, Portal, RateLimit
from kopilka.bitrix24 import errors as e
from kopilka.bitrix24.auth import WebhookAuth
from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.limiter import MemoryRateLimiter, PgRateLimiter, RateLimiter


def client(hook: str, limiter: RateLimiter | None = None, **kw: Any) -> Bitrix24Client:
    limiter = limiter or MemoryRateLimiter(interval=0.001, burst=1000)
    kw.setdefault("backoff", 0.02)
    return Bitrix24Client(WebhookAuth(hook), limiter=limiter, **kw)


def contacts(portal: Portal) -> int:
    return int(portal.call("crm.contact.list", {"start": 0})["total"])


async def test_503_storm_is_retried_until_it_succeeds(portal: Portal, hook: str) -> None:
    portal.rate_limit = RateLimit(burst=3, per_second=20.0)
    # a limiter that does not pace at all: the portal's bucket overflows at once
    async with client(hook, max_retries=10) as b24:
        answers = await asyncio.gather(
            *(
                b24.call("crm.contact.add", {"fields": {"NAME": f"n{i}"}}, write=True)
                for i in range(12)
            )
        )
    assert len(set(answers)) == 12  # every write ran, exactly once
    assert contacts(portal) == 12
    assert portal.stats.rejected_503 > 0
    assert b24.retries_503 == portal.stats.rejected_503
    assert (await b24.limiter.stats()).rejected == b24.retries_503


async def test_503_gives_up_after_max_retries(portal: Portal, hook: str) -> None:
    portal.rate_limit = RateLimit(burst=1, per_second=0.001)
    async with client(hook, max_retries=2) as b24:
        await b24.call("crm.contact.list")
        with pytest.raises(e.B24RateLimited):
            await b24.call("crm.contact.list")
    assert b24.requests == 4


async def _run(b24: Bitrix24Client, n: int) -> None:
    for _ in range(n):
        await b24.call("crm.contact.list", {"select": ["ID"], "start": -1})


async def test_our_pace_never_trips_the_portal_bucket(portal: Portal, hook: str) -> None:
    # the portal's 50 / 2 per second, scaled 25x: burst 50, 50 per second; our limiter at the
    # same scale: interval 0.5 / 25 = 0.02 s, burst 10
    portal.rate_limit = RateLimit(burst=50, per_second=50.0)
    limiter = MemoryRateLimiter(interval=0.02, burst=10)
    async with client(hook, limiter) as b24:
        await asyncio.gather(*(_run(b24, 10) for _ in range(6)))
    assert portal.stats.requests_total == 60
    assert portal.stats.rejected_503 == 0
    assert portal.stats.max_bucket_level <= 15
    assert b24.retries_503 == 0


async def test_two_processes_share_the_pace_through_postgres(
    portal: Portal,
    hook: str,
    committed_engine: AsyncEngine,
    second_engine: AsyncEngine,
    portal_id: int,
) -> None:
    portal.rate_limit = RateLimit(burst=50, per_second=50.0)
    clients = [
        client(hook, PgRateLimiter(eng, portal_id, interval=0.02, burst=10))
        for eng in (committed_engine, second_engine)
    ]
    await asyncio.gather(*(_run(c, 10) for c in clients for _ in range(3)))
    for c in clients:
        await c.aclose()
    assert portal.stats.requests_total == 60
    assert portal.stats.rejected_503 == 0
    assert portal.stats.max_bucket_level <= 15


async def test_429_waits_for_the_operating_reset(
    portal: Portal, hook: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(b24emu.limits, "WINDOW_SECONDS", 1.0)  # the 10-minute window, shrunk
    portal.operating_limit_seconds = 0.5
    portal.method_cost_seconds["crm.contact.list"] = 1.0  # one call exhausts the limit
    async with client(hook) as b24:
        await b24.call("crm.contact.list")
        started = time.monotonic()
        await b24.call("crm.contact.list")  # 429 first, then waits for the reset
        waited = time.monotonic() - started
        await b24.call("crm.contact.add", {"fields": {"NAME": "x"}}, write=True)  # unaffected
    assert portal.stats.rejected_429 == 1
    assert 0.2 < waited < 3.5
    assert b24.retries_other == 1


async def test_429_too_far_away_raises_with_the_reset_time(portal: Portal, hook: str) -> None:
    portal.operating_limit_seconds = 0.5
    portal.method_cost_seconds["crm.contact.list"] = 1.0
    async with client(hook, max_operation_wait=5.0) as b24:
        await b24.call("crm.contact.list")
        with pytest.raises(e.B24OperationLimit) as caught:
            await b24.call("crm.contact.list")
    assert caught.value.reset_at is not None
    assert caught.value.reset_at > time.time() + 500  # the portal's 10-minute window
    assert portal.stats.rejected_429 == 1


async def test_500s_are_retried_for_reads(portal: Portal, hook: str) -> None:
    portal.faults = Faults(error_500_rate=0.4, seed=3)
    async with client(hook, max_retries=8) as b24:
        for _ in range(10):
            await b24.call("crm.contact.list")
    assert portal.stats.errors_500 > 0
    assert b24.retries_other == portal.stats.errors_500


async def test_500s_are_not_retried_for_writes(portal: Portal, hook: str) -> None:
    portal.faults = Faults(error_500_rate=0.5, seed=5)
    ok = failed = 0
    statuses: set[int | None] = set()
    async with client(hook, max_retries=8) as b24:
        for i in range(20):
            try:
                await b24.call("crm.contact.add", {"fields": {"NAME": f"n{i}"}}, write=True)
                ok += 1
            except e.B24ServerError as exc:
                statuses.add(exc.status)
                failed += 1
    assert failed > 0
    assert statuses == {500}
    assert portal.stats.requests_total == 20  # nothing re-sent
    portal.faults = Faults()
    assert contacts(portal) == ok  # each write ran at most once


async def test_a_batch_of_writes_is_not_resent_after_a_500(portal: Portal, hook: str) -> None:
    portal.faults = Faults(error_500_rate=1.0)
    commands = {f"w{i}": ("crm.contact.add", {"fields": {"NAME": "x"}}) for i in range(3)}
    async with client(hook) as b24:
        with pytest.raises(e.B24ServerError):
            await b24.batch(commands, write=True)
    assert portal.stats.requests_total == 1


async def test_read_timeouts_retry_reads_and_never_writes(portal: Portal, hook: str) -> None:
    portal.faults = Faults(slow_seconds=0.3)  # the answer comes after the method ran
    async with client(hook, timeout=0.1, max_retries=2) as b24:
        with pytest.raises(e.B24TransportError) as read:
            await b24.call("crm.contact.list")
        assert read.value.may_have_run
        assert b24.requests == 3
        with pytest.raises(e.B24TransportError) as write:
            await b24.call("crm.contact.add", {"fields": {"NAME": "x"}}, write=True)
        assert write.value.may_have_run
        assert b24.requests == 4
    await asyncio.sleep(0.3)
    portal.faults = Faults()
    assert contacts(portal) == 1  # it ran once; the client did not send it again


async def test_connection_errors_retry_writes_too() -> None:
    dead = "http://127.0.0.1:9/rest/1/abcdef/"  # nothing listens on port 9
    async with client(dead, max_retries=2) as b24:
        with pytest.raises(e.B24TransportError) as caught:
            await b24.call("crm.contact.add", {"fields": {}}, write=True)
    assert not caught.value.may_have_run
    assert b24.requests == 3
    assert b24.retries_other == 2
