"""Real worker processes (`kopilka worker`) on one portal: a worker killed with SIGKILL mid-job
is replaced and the job finishes exactly once in effect; two workers never sync the portal at the
same time and together never push the portal's bucket past its burst."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import time
from contextlib import AbstractContextManager
from itertools import pairwise

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from b24emu import Faults, RateLimit
from kopilka.bitrix24.deferred import SYNC_TASK
from kopilka.bitrix24.sync import SYNC_LOCK
from kopilka.db.tables import b24_deals, b24_sync_runs
from kopilka.process.devstack import Stack, emulated_portal
from tests.b24harness import kopilka_on_emulator
from tests.e2e.conftest import worker_process

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]

BALANCE = "UF_CRM_KOP_BALANCE"


def worker(engine: AsyncEngine, **env: str) -> AbstractContextManager[subprocess.Popen[bytes]]:
    return worker_process(engine, **{"KOPILKA_B24_BURST": "5", **env})


def win_deals(h: Stack, n: int) -> list[int]:
    contacts = [h.add_contact(f"Покупатель {i}") for i in range(n)]
    for contact in contacts:
        h.move(h.add_deal(contact, "2000"), "WON")
    return contacts


async def assert_each_earned_100(h: Stack, contacts: list[int]) -> None:
    for contact in contacts:
        assert (await h.balance(contact)).available == 100_00  # 5 % of 2 000, once
        assert str(h.contact(contact).get(BALANCE)) == "100"


async def test_worker_killed_mid_job_is_replaced(committed_engine: AsyncEngine) -> None:
    portal = emulated_portal()
    async with kopilka_on_emulator(committed_engine, portal=portal, worker=False) as h:
        portal.faults = Faults(slow_seconds=0.3)  # every answer takes a while: the job is long
        contacts = win_deals(h, 40)
        await portal.flush_events()
        with worker(committed_engine) as first:
            for _ in range(300):  # wait until it is in the middle of the job
                async with committed_engine.connect() as conn:
                    done = await conn.scalar(select(func.count()).select_from(b24_deals))
                if done and done >= 5:
                    break
                await asyncio.sleep(0.1)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        async with committed_engine.connect() as conn:
            runs = (await conn.execute(select(b24_sync_runs))).all()
        assert any(r.finished_at is None for r in runs)  # it really died mid-drain
        portal.faults = Faults()
        # A deal won meanwhile queues a new sync behind the dead one's lock.
        contacts += win_deals(h, 1)
        await portal.flush_events()
        await asyncio.sleep(2.5)  # the dead worker's heartbeat goes stale
        with worker(committed_engine):
            await h.settle(timeout=120)
        await assert_each_earned_100(h, contacts)


async def _wait_for(engine: AsyncEngine, sql: str, timeout: float = 60.0) -> object:
    """Poll until ``sql`` returns a value (not NULL, not false); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with engine.connect() as conn:
            found = await conn.scalar(text(sql), {"task": SYNC_TASK, "ns": SYNC_LOCK})
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"never seen: {sql}")


RUNNING = "SELECT worker FROM b24_sync_runs WHERE finished_at IS NULL LIMIT 1"
#: contention: while one sync drains the portal another waits, queued or for the portal's lock
WAITING_BEHIND_A_RUN = (
    "SELECT EXISTS (SELECT FROM b24_sync_runs WHERE finished_at IS NULL) AND ("
    " EXISTS (SELECT FROM procrastinate_jobs WHERE task_name = :task AND status = 'todo')"
    " OR EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    " AND classid::bigint = :ns))"
)


def name_of(proc: subprocess.Popen[bytes]) -> str:
    return f"{socket.gethostname()}:{proc.pid}"  # as a sync run records its worker


async def test_two_workers_share_the_portal_politely(committed_engine: AsyncEngine) -> None:
    limit = RateLimit(burst=10, per_second=20.0, enabled=True)
    portal = emulated_portal(rate_limit=limit)
    async with kopilka_on_emulator(committed_engine, portal=portal, worker=False) as h:
        portal.stats.reset()
        with worker(committed_engine) as one, worker(committed_engine) as two:
            portal.faults = Faults(slow_seconds=0.3)  # a long first run: the next one must wait
            contacts = win_deals(h, 20)
            await portal.flush_events()
            busy = await _wait_for(committed_engine, RUNNING)
            contacts += win_deals(h, 20)
            await portal.flush_events()
            assert await _wait_for(committed_engine, WAITING_BEHIND_A_RUN)
            # The busy worker stops (gracefully: it finishes its run, takes nothing more), so
            # the waiting sync is the other worker's, and it starts only when the run is over.
            first = one if busy == name_of(one) else two
            assert busy == name_of(first)
            first.terminate()
            first.wait(120)
            portal.faults = Faults(slow_seconds=0.02)
            await h.settle(timeout=180)
        await assert_each_earned_100(h, contacts)
        assert portal.stats.rejected_503 == 0
        assert portal.stats.max_bucket_level <= limit.burst
        async with committed_engine.connect() as conn:
            runs = (
                await conn.execute(
                    select(
                        b24_sync_runs.c.worker,
                        b24_sync_runs.c.started_at,
                        b24_sync_runs.c.finished_at,
                    ).order_by(b24_sync_runs.c.started_at)
                )
            ).all()
        assert all(r.finished_at is not None for r in runs)
        assert {r.worker for r in runs} == {name_of(one), name_of(two)}
        for before, after in pairwise(runs):
            assert before.finished_at <= after.started_at, (before, after)  # never at once
