"""Cost as data grows (issue 21, item 4): a balance lookup, a deal's sync and the cabinet's home
page at 1 000, 100 000 and 1 000 000 customers (10 000 000 ledger entries), p50 and p99 each,
as a ratio to the same at the smallest size, in the same run.

Run ``python -m bench.growth [--sizes 1000,100000,1000000] [--samples N] [--plans]
[--plot docs/growth.png] [--json out]``.

One PostgreSQL server (embedded, or ``KOPILKA_BENCH_DATABASE_URL`` as a superuser), one database
migrated to head; one Kopilka (``devstack.kopilka_on_emulator``: the real app, no worker) connected
to an emulated portal (b24emu on loopback, its rate limit off; Kopilka's own pacing set to
1 000 requests/s) running ``examples/aesthetic-medicine.yaml`` (levels by lifetime purchases, a
first-order bonus: every sync reads the contact's history). The same database grows from one
size to the next (``bench.growth_seed``: SQL, Zipf-like histories, ~10 legs per customer); after
each growth ``VACUUM ANALYZE``, then, for N random customers (the same seed every run) and the
customer with the longest history, warm (three untimed calls first):

* floor: ``SELECT 1`` on a pooled connection — the constant cost of a round trip;
* balance: ``GET /api/v1/customers/{id}/balance`` with an API key, in process (httpx
  ``ASGITransport``: the app's whole path, no socket); the answer's total is checked against
  the balance the seed gave the customer;
* cabinet: ``GET /cabinet/`` with the customer's session cookie, in process; must be 200 and name
  the customer;
* sync: a new deal of the customer's contact is won in the portal (untimed, its events let
  through and its hint cleared), then hinted dirty (untimed) and ``sync_portal`` timed: the
  deal read from the portal over HTTP, its history read, its accrual posted, the contact's fields
  and a timeline comment written back. Must post.

Goal: p50 and p99 at the largest size within 2x of the smallest (floor excluded). ``--plans``
prints ``EXPLAIN (ANALYZE, BUFFERS)`` of every SELECT each operation runs, for the customer with
the longest history at the largest size, and names the indexes used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from b24emu import Portal, RateLimit
from bench.growth_plans import capture, explain_all, print_plans
from bench.growth_report import OPS, plot, print_table, verdicts
from bench.growth_seed import LIVE_DEALS, PEOPLE, grow
from bench.ledger import create_database, drop_database, machine_facts, pg_server
from bench.seed import system_account, vacuum_analyze
from kopilka.api.keys import create_api_key
from kopilka.bitrix24.connections import portal_program
from kopilka.bitrix24.sync import mark_dirty, sync_portal
from kopilka.bitrix24.sync.hints import GATHER_QUIET
from kopilka.cabinet.sessions import open_session
from kopilka.config import Settings
from kopilka.db.engine import create_engine, run_in_transaction
from kopilka.db.migrate import upgrade
from kopilka.process.devstack import Stack, example, kopilka_on_emulator
from kopilka.program.loader import load_program
from kopilka.web.app import create_app

SIZES = (1_000, 100_000, 1_000_000)
PROGRAM = "aesthetic-medicine.yaml"
WARM = 3


@dataclass
class Bench:
    engine: AsyncEngine
    stack: Stack
    http: httpx.AsyncClient
    api_key: str
    program_id: int
    now: datetime
    rng: random.Random = field(default_factory=lambda: random.Random(21))
    contacts: set[int] = field(default_factory=set)

    @property
    def portal(self) -> Portal:
        return self.stack.portal

    @property
    def portal_id(self) -> int:
        return self.stack.connection.portal_id

    async def person(self, g: int) -> dict[str, Any]:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(text(f"SELECT * FROM {PEOPLE} WHERE g = :g"), {"g": g})  # noqa: S608
            ).one()
        return dict(row._mapping)

    async def heaviest(self) -> int:
        async with self.engine.connect() as conn:
            return int(
                await conn.scalar(
                    text(f"SELECT g FROM {PEOPLE} ORDER BY purchases DESC, g LIMIT 1")  # noqa: S608
                )
            )

    # --- the operations: each returns an awaitable timed alone --------------------------------

    async def floor(self, g: int) -> Callable[[], Awaitable[None]]:
        async def op() -> None:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))

        return op

    async def balance(self, g: int) -> Callable[[], Awaitable[None]]:
        who = await self.person(g)
        async with self.engine.connect() as conn:  # the sum of the lots, as the books say
            want = await conn.scalar(
                text("SELECT COALESCE(sum(remaining), 0) FROM lots WHERE account_id = :a"),
                {"a": who["account"]},
            )
        headers = {"Authorization": f"Bearer {self.api_key}"}

        async def op() -> None:
            answer = await self.http.get(
                f"/api/v1/customers/{who['customer']}/balance", headers=headers
            )
            if answer.status_code != 200 or answer.json()["total"] != want:
                raise SystemExit(
                    f"FAILED: balance of customer {g}: {answer.text[:300]}, want {who}"
                )

        return op

    async def cabinet(self, g: int) -> Callable[[], Awaitable[None]]:
        who = await self.person(g)

        async def login(conn: Any) -> str:
            return await open_session(
                conn, "customer", self.portal_id, who["customer"], self.now, 3600
            )

        token = await run_in_transaction(self.engine, login)
        headers = {"Cookie": f"kop_session={token}"}

        async def op() -> None:
            answer = await self.http.get("/cabinet/", headers=headers)
            if answer.status_code != 200 or f"Клиент {g}" not in answer.text:
                raise SystemExit(f"FAILED: cabinet of customer {g}: {answer.status_code}")

        return op

    async def sync(self, g: int) -> Callable[[], Awaitable[None]]:
        if g not in self.contacts:  # the portal's contact g is the seeded customer g
            self.portal.seq["contact"] = g
            made = self.stack.add_contact(f"Клиент {g}")
            assert made == g, (made, g)
            self.contacts.add(g)
        deal = self.stack.add_deal(g, str(1000 + self.rng.randrange(29000)))
        self.stack.move(deal, "WON")
        await self.portal.flush_events()  # the hints the events left are cleared: timed alone
        async with self.engine.begin() as conn:
            await conn.execute(
                text("DELETE FROM b24_dirty_deals WHERE portal_id = :p"), {"p": self.portal_id}
            )
            await mark_dirty(conn, self.portal_id, [deal], "bench")
            # the burst is over: the sync's deliberate wait for more hints (GATHER_QUIET) is
            # not Kopilka's cost of the data
            await conn.execute(
                text("UPDATE b24_dirty_deals SET hinted_at = now() - :quiet WHERE portal_id = :p"),
                {"p": self.portal_id, "quiet": timedelta(seconds=2 * GATHER_QUIET)},
            )
        client = self.stack.services.client_for(self.stack.connection)

        async def op() -> None:
            report = await sync_portal(
                self.engine, client, self.stack.connection, now=self.stack.services.now
            )
            if report.deals != 1 or report.failed or report.posted < 1:
                raise SystemExit(f"FAILED: the sync of deal {deal} (contact {g}): {report}")

        return op


async def timed(bench: Bench, name: str, g: int) -> float:
    op = await getattr(bench, name)(g)
    started = time.perf_counter()
    await op()
    return time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(bench: Bench, size: int, samples: int) -> dict[str, Any]:
    """Every operation for each sampled customer in turn (interleaved, so that whatever else the
    machine or the server does meanwhile — a checkpoint, autovacuum after the seed, another
    process — falls on all of them alike), after a warm-up of each."""
    heavy = await bench.heaviest()
    picks = [bench.rng.randint(1, size) for _ in range(samples)]
    for name in OPS:
        for g in picks[:WARM]:
            await timed(bench, name, g)
    ms: dict[str, list[float]] = {name: [] for name in OPS}
    for g in picks:
        for name in OPS:
            ms[name].append(1000 * await timed(bench, name, g))
    found: dict[str, Any] = {}
    for name in OPS:
        found[name] = {
            "p50_ms": round(percentile(ms[name], 0.5), 2),
            "p99_ms": round(percentile(ms[name], 0.99), 2),
            "heaviest_ms": round(1000 * await timed(bench, name, heavy), 2),
        }
        print(f"  {name:8} {found[name]}", file=sys.stderr)
    person = await bench.person(heavy)
    found["heaviest"] = {"g": heavy, "purchases": person["purchases"]}
    return found


async def setup(stack: AsyncExitStack, server_url: str, now: datetime) -> Bench:
    name = f"kopilka_bench_growth_{uuid.uuid4().hex[:6]}"
    url = create_database(server_url, name)
    stack.callback(drop_database, server_url, name)
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url, pool_size=5)
    stack.push_async_callback(engine.dispose)
    path, source = example(PROGRAM)
    portal = Portal.seeded("empty", rate_limit=RateLimit(enabled=False))
    portal.seq["deal"] = LIVE_DEALS
    settings = Settings(b24_interval=0.001, b24_burst=1000, cabinet_portal=portal.member_id)
    live = await stack.enter_async_context(
        kopilka_on_emulator(
            engine, load_program(path), source, portal=portal, worker=False, settings=settings
        )
    )

    async def key(conn: Any) -> str:
        return await create_api_key(conn, live.connection.portal_id, "bench", ["cards:read"])

    api_key = await run_in_transaction(engine, key)
    async with engine.connect() as conn:
        book, _ = await portal_program(conn, live.connection)
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(live.services)), base_url="http://bench"
    )
    stack.push_async_callback(http.aclose)
    return Bench(engine, live, http, api_key, book.program_id, now)


async def run(args: argparse.Namespace, server_url: str) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    results: dict[str, Any] = {}
    async with AsyncExitStack() as stack:
        bench = await setup(stack, server_url, now)
        async with bench.engine.connect() as conn:
            book, _ = await portal_program(conn, bench.stack.connection)
            system = {
                k: await system_account(conn, book, k) for k in ("issued", "redeemed", "expired")
            }
            await conn.commit()
        grown = 0
        for size in sorted(args.sizes):
            print(f"growing to {size} customers …", file=sys.stderr)
            t0 = time.perf_counter()
            async with bench.engine.begin() as conn:
                buys = await grow(conn, bench.portal_id, bench.program_id, system, grown, size, now)
            await vacuum_analyze(bench.engine)
            async with bench.engine.connect() as conn:  # the seed's writes on disk, not timed
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("CHECKPOINT"))
            seeding = time.perf_counter() - t0
            grown = size
            async with bench.engine.connect() as conn:
                legs = int(await conn.scalar(text("SELECT count(*) FROM ledger_entries")) or 0)
            print(f"  +{buys} purchases, {legs} legs in all, {seeding:.0f} s", file=sys.stderr)
            results[str(size)] = {
                "legs": legs,
                "seeding_seconds": round(seeding, 1),
                **await measure(bench, size, args.samples),
            }
        plans = await explain_all(bench, capture) if args.plans else None
    return {"sizes": results, "plans": plans}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.growth", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(x) for x in s.split(",")],
        default=list(SIZES),
        help="customers at each size, comma-separated (1000,100000,1000000)",
    )
    parser.add_argument("--samples", type=int, default=200, help="random customers per size (200)")
    parser.add_argument("--plans", action="store_true", help="EXPLAIN the queries at the largest")
    parser.add_argument("--plot", type=Path, help="save the curves here (e.g. docs/growth.png)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    with pg_server() as server:
        facts = machine_facts(server.url)
        started = time.perf_counter()
        result = asyncio.run(run(args, server.url))
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": facts,
        "samples": args.samples,
        "total_seconds": round(time.perf_counter() - started),
        **result,
        "verdicts": verdicts(result["sizes"]),
    }
    if result["plans"]:
        print_plans(result["plans"])
    print_table(report)
    if args.plot:
        plot(result["sizes"], args.plot)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
