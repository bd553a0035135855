"""bench/ledger's one-round-trip phases: single commands on autocommit connections.

Each unit of work is one ``kopilka.ledger.onetrip`` accrual or redemption of 1 point — one
statement, its own transaction, every check of the ledger kept (it is the statement every
accrual and redemption runs). ``clients`` connections are spread over ``processes`` worker
processes (each an asyncio loop), so that the client's Python can use more than one core; the
customers are split into disjoint slices, one per connection, as in the other phases.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing import get_context

from kopilka.db.engine import conninfo
from kopilka.ledger import onetrip
from kopilka.ledger.accrual import AccrualRequest
from kopilka.ledger.spending import RedemptionRequest
from kopilka.ledger.types import Book

POINT = 100
WARMUP = 6  # per connection: psycopg prepares a statement on its 5th use


@dataclass(frozen=True)
class Share:
    """What one worker process runs."""

    url: str
    book: Book
    kind: str  # "accrual" | "redemption"
    slices: list[list[int]]  # one per connection
    start_at: float  # wall clock, the same for every process
    seconds: float


@dataclass(frozen=True)
class Done:
    operations: int
    latencies_ms: list[float]
    cpu_seconds: float


async def _run(share: Share) -> Done:
    run = uuid.uuid4().hex[:8]
    conns = [await onetrip.connect(conninfo(share.url)) for _ in share.slices]
    latencies: list[float] = []
    counted = [0]

    async def one(conn: onetrip.Connection, customer: int, key: str) -> None:
        now = datetime.now(UTC)
        if share.kind == "accrual":
            request = AccrualRequest(customer, POINT, key, "bench purchase", "bench", now)
            await onetrip.accrue(conn, share.book, request)
        else:
            spend = RedemptionRequest(customer, POINT, key, "bench order", "bench", now)
            await onetrip.redeem(conn, share.book, spend)

    async def worker(i: int, conn: onetrip.Connection) -> None:
        mine = share.slices[i]
        for n in range(WARMUP):
            await one(conn, mine[n % len(mine)], f"bench-1rt-{run}-{i}-w{n}")
        await asyncio.sleep(max(0.0, share.start_at - time.time()))
        deadline = share.start_at + share.seconds
        n = 0
        while time.time() < deadline:
            t0 = time.perf_counter()
            await one(conn, mine[n % len(mine)], f"bench-1rt-{run}-{i}-{n}")
            latencies.append((time.perf_counter() - t0) * 1000)
            counted[0] += 1
            n += 1

    try:
        await asyncio.sleep(max(0.0, share.start_at - time.time() - 1.5))
        cpu0 = time.process_time()
        await asyncio.gather(*(worker(i, c) for i, c in enumerate(conns)))
        return Done(counted[0], latencies, time.process_time() - cpu0)
    finally:
        for c in conns:
            await c.close()


def _process(share: Share) -> Done:
    return asyncio.run(_run(share))


def run_phase(
    url: str,
    book: Book,
    kind: str,
    customers: list[int],
    clients: int,
    processes: int,
    seconds: float,
) -> tuple[int, float, list[float], float]:
    """(operations, seconds, latencies in ms, client CPU in cores) of one phase."""
    slices = [customers[i::clients] for i in range(clients)]
    start_at = time.time() + 4.0  # after every process has started and warmed up
    shares = [
        Share(url, book, kind, slices[p::processes], start_at, seconds) for p in range(processes)
    ]
    with ProcessPoolExecutor(len(shares), mp_context=get_context("spawn")) as pool:
        done = list(pool.map(_process, shares))
    latencies = [ms for d in done for ms in d.latencies_ms]
    return (
        sum(d.operations for d in done),
        seconds,
        latencies,
        sum(d.cpu_seconds for d in done) / seconds,
    )
