"""The admin's reports page (issue 18, item 3) over a portal with 1 000 000 ledger entries, as a
ratio to one plain SQL aggregate over the same entries, in the same run.

Run ``python -m bench.reports [--entries N] [--customers N] [--repeat R] [--json out]``.

One PostgreSQL server (a throw-away embedded one, or ``KOPILKA_BENCH_DATABASE_URL``, as a
superuser), one database migrated to head; the portal runs ``examples/aesthetic-medicine.yaml``.
Seeded with SQL (``generate_series``) over three years to NOW, C customers (20 000):

* L accruals (``issued → customer``, one lot each, expiring 400 days later); one in a hundred is
  a manual bonus (``manual:apology``) by one of three people;
* every second lot half spent (``customer → redeemed``) within 30 days;
* one lot in fifty reversed whole a day later (``customer → issued``);
* every lot past its expiry with points left expired (``customer → expired``);
* 50 000 won deals of those customers' contacts (``b24_deals``, ``b24_deal_shares``) for levels.

L is chosen so that the entries come to N (1 000 000). The rows are written with the ledger's
triggers off (``session_replication_role = replica``: a row trigger per entry would take
minutes); the caches the triggers keep (lot remainders, balances) are then computed from the
entries, and ``ledger.invariants`` must find nothing wrong before anything is timed.

Timed, warm (one untimed run each first), alternating, R times each, median:

* baseline: ONE plain aggregate, every entry of the program summed by account kind (entries ⋈
  accounts: what reading the ledger once costs);
* report: ``reports.service.build_report`` for the default range (twelve months to NOW), every
  query of the page in one REPEATABLE READ snapshot, as the page runs them;
* report_month: the same for one month (November 2026), daily;
* page: ``GET /admin/reports`` through the app (a logged-in admin's session): the report, the
  charts and the HTML.

Also each query alone, and the plan of the biggest one (``EXPLAIN ANALYZE``). Goal: the page
in under a second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bench.ledger import create_database, drop_database, machine_facts, pg_server
from bench.seed import id_bases, resync_sequences, run_untriggered, vacuum_analyze
from kopilka.cabinet import sessions
from kopilka.config import Settings
from kopilka.db.engine import create_engine
from kopilka.db.migrate import upgrade
from kopilka.ledger.book import ensure_portal
from kopilka.ledger.invariants import check_invariants
from kopilka.ledger.types import Book
from kopilka.lifecycle.service import active_program, install_program
from kopilka.process.services import Services
from kopilka.program.loader import load_program
from kopilka.program.model import Program
from kopilka.reports import queries
from kopilka.reports.endpoints import parse_range
from kopilka.reports.schemas import HORIZONS
from kopilka.reports.service import TOP, build_report, level_distribution
from kopilka.web.app import create_app

GOAL = 1.0  # seconds for the whole page
PROGRAM = Path(__file__).parents[1] / "examples" / "aesthetic-medicine.yaml"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
#: entries per accrual (2 + a redemption's 2 every second lot + most lots' expiry 2 + …)
ENTRIES_PER_LOT = 4.28

SEED = [
    # customers, their accounts (customer, held) and the program's three system accounts
    """INSERT INTO customers (id, portal_id, external_id, name)
       SELECT :cbase + k, :portal, 'contact:' || k, 'Клиент ' || k
         FROM generate_series(1, :customers) AS k""",
    """INSERT INTO accounts (id, portal_id, program_id, kind, customer_id)
       SELECT :abase + k, :portal, :program, CAST('customer' AS account_kind), :cbase + k
         FROM generate_series(1, :customers) AS k
       UNION ALL
       SELECT :abase + :customers + k, :portal, :program, CAST('held' AS account_kind), :cbase + k
         FROM generate_series(1, :customers) AS k
       UNION ALL
       SELECT :abase + 2 * :customers + k, :portal, :program,
              CAST((ARRAY['issued', 'redeemed', 'expired'])[k] AS account_kind), NULL
         FROM generate_series(1, 3) AS k""",
    # one row per lot with everything that happens to it
    """CREATE TEMP TABLE bench_lots AS
       SELECT n, :cbase + 1 + (n * 48271) % :customers AS customer,
              :abase + 1 + (n * 48271) % :customers AS account,
              100 * (50 + (n * 31) % 2000) AS amount,
              CAST(:now AS timestamptz) - interval '1095 days'
                + ((n * 7919) % (1095 * 1440)) * interval '1 minute' AS at
         FROM generate_series(CAST(1 AS bigint), :lots) AS n""",
    """ALTER TABLE bench_lots
         ADD COLUMN spent bigint, ADD COLUMN reversed bool, ADD COLUMN expires timestamptz""",
    """UPDATE bench_lots SET
         spent = CASE WHEN n % 2 = 0 THEN amount / 200 * 100 ELSE 0 END,
         reversed = n % 50 = 5,
         expires = at + interval '400 days'""",
    """INSERT INTO ledger_transactions (id, portal_id, program_id, kind, idempotency_key,
         input_hash, reason, actor, rule_id, effective_at)
       SELECT :tbase + n, :portal, :program, 'accrual', 'bench:acc:' || n, 'x',
              CASE WHEN n % 100 = 7 THEN 'Бонус-извинение' ELSE 'покупка' END,
              CASE WHEN n % 100 = 7
                   THEN (ARRAY['admin:olga', 'admin:ivan', 'admin:petr'])[1 + n % 3]
                   ELSE 'sync' END,
              CASE WHEN n % 100 = 7 THEN 'manual:apology' ELSE 'status-cashback' END, at
         FROM bench_lots""",
    """INSERT INTO lots (id, account_id, transaction_id, amount, remaining, available_at,
         expires_at)
       SELECT :lbase + n, account, :tbase + n, amount, 0, at, expires FROM bench_lots""",
    """INSERT INTO ledger_entries (transaction_id, account_id, lot_id, amount)
       SELECT :tbase + n, :issued, NULL, -amount FROM bench_lots
       UNION ALL
       SELECT :tbase + n, account, :lbase + n, amount FROM bench_lots""",
    # redemptions
    """INSERT INTO ledger_transactions (id, portal_id, program_id, kind, idempotency_key,
         input_hash, reason, actor, effective_at)
       SELECT :tbase + :lots + n, :portal, :program, 'redemption', 'bench:red:' || n, 'x',
              'оплата баллами', 'sync', LEAST(at + (n % 30) * interval '1 day', :now)
         FROM bench_lots WHERE spent > 0""",
    """INSERT INTO ledger_entries (transaction_id, account_id, lot_id, amount)
       SELECT :tbase + :lots + n, account, :lbase + n, -spent FROM bench_lots WHERE spent > 0
       UNION ALL
       SELECT :tbase + :lots + n, :redeemed, :lbase + n, spent FROM bench_lots WHERE spent > 0""",
    # reversals of whole accruals
    """INSERT INTO ledger_transactions (id, portal_id, program_id, kind, idempotency_key,
         input_hash, reason, actor, reverses_id, effective_at)
       SELECT :tbase + 2 * :lots + n, :portal, :program, 'reversal', 'bench:rev:' || n, 'x',
              'сделка отменена', 'sync', :tbase + n, LEAST(at + interval '1 day', :now)
         FROM bench_lots WHERE reversed""",
    """INSERT INTO ledger_entries (transaction_id, account_id, lot_id, amount)
       SELECT :tbase + 2 * :lots + n, account, :lbase + n, -amount FROM bench_lots WHERE reversed
       UNION ALL
       SELECT :tbase + 2 * :lots + n, :issued, NULL, amount FROM bench_lots WHERE reversed""",
    # expiries of what is left in lots past their date
    """INSERT INTO ledger_transactions (id, portal_id, program_id, kind, idempotency_key,
         input_hash, reason, actor, effective_at)
       SELECT :tbase + 3 * :lots + n, :portal, :program, 'expiry', 'bench:exp:' || n, 'x',
              'баллы сгорели', 'system', expires
         FROM bench_lots WHERE NOT reversed AND expires <= :now""",
    """INSERT INTO ledger_entries (transaction_id, account_id, lot_id, amount)
       SELECT :tbase + 3 * :lots + n, account, :lbase + n, -(amount - spent)
         FROM bench_lots WHERE NOT reversed AND expires <= :now
       UNION ALL
       SELECT :tbase + 3 * :lots + n, :expired, :lbase + n, amount - spent
         FROM bench_lots WHERE NOT reversed AND expires <= :now""",
    # the caches the entry trigger keeps
    """UPDATE lots l SET remaining = s.total
         FROM (SELECT e.lot_id, sum(e.amount) AS total
                 FROM ledger_entries e
                 JOIN lots x ON x.id = e.lot_id AND x.account_id = e.account_id
                WHERE x.id > :lbase GROUP BY e.lot_id) AS s
        WHERE l.id = s.lot_id""",
    """UPDATE accounts a SET balance = s.total
         FROM (SELECT e.account_id, sum(e.amount) AS total FROM ledger_entries e
                WHERE e.account_id > :abase AND e.account_id <= :abase + :customers
                GROUP BY e.account_id) AS s
        WHERE a.id = s.account_id""",
    # won deals for the levels, bench/totals' way
    """INSERT INTO b24_deals (portal_id, deal_id, category_id, stage_id, semantic, amount,
         contact_ids, closed_at, applied_discount, synced_at)
       SELECT :portal, d, 0, 'WON', 'S', 100000 + (d * 2654435761) % 30000000,
              ARRAY[1 + (d * 48271) % :customers], :now - ((d * 40503) % (1095 * 1440))
                * interval '1 minute', '{}'::jsonb, now()
         FROM generate_series(CAST(1 AS bigint), :deals) AS d""",
    """INSERT INTO b24_deal_shares (portal_id, deal_id, contact_id, category_id, closed_at, amount)
       SELECT portal_id, deal_id, contact_ids[1], category_id, closed_at, amount
         FROM b24_deals WHERE portal_id = :portal""",
]

#: The baseline: every entry of the program read once, summed by account kind.
BASELINE = """
SELECT a.kind, sum(e.amount) AS total
  FROM ledger_entries e JOIN accounts a ON a.id = e.account_id
 WHERE a.program_id = :program
 GROUP BY a.kind
"""


async def seed(engine: AsyncEngine, program: Program, entries: int, customers: int) -> int:
    lots = int(entries / ENTRIES_PER_LOT)
    async with engine.begin() as conn:
        portal = await ensure_portal_row(conn)
        await install_program(
            conn,
            portal,
            program,
            PROGRAM.read_text(encoding="utf-8"),
            now=datetime(2023, 1, 1, tzinfo=UTC),
        )
        program_id = int(
            await conn.scalar(text("SELECT id FROM programs WHERE portal_id = :p"), {"p": portal})
        )
        base = await id_bases(conn)
        abase = base["accounts"]
        params = {
            "portal": portal,
            "program": program_id,
            "customers": customers,
            "lots": lots,
            "deals": 50_000,
            "now": NOW,
            "cbase": base["customers"],
            "abase": abase,
            "tbase": base["ledger_transactions"],
            "lbase": base["lots"],
            "issued": abase + 2 * customers + 1,
            "redeemed": abase + 2 * customers + 2,
            "expired": abase + 2 * customers + 3,
        }
        await run_untriggered(conn, SEED, params)
        await resync_sequences(conn)
    await vacuum_analyze(
        engine, ("ledger_entries", "ledger_transactions", "lots", "accounts", "customers")
    )
    return portal


async def ensure_portal_row(conn: AsyncConnection) -> int:
    return await ensure_portal(conn, f"bench-{uuid.uuid4().hex[:8]}", "bench.example")


async def timed(engine: AsyncEngine, work: Callable[[AsyncConnection], Awaitable[Any]]) -> float:
    async with engine.connect() as conn:
        started = time.perf_counter()
        await work(conn)
        elapsed = time.perf_counter() - started
        await conn.rollback()
    return elapsed


async def run(args: argparse.Namespace, server_url: str) -> dict[str, Any]:
    name = f"kopilka_bench_reports_{uuid.uuid4().hex[:8]}"
    url = create_database(server_url, name)
    try:
        await asyncio.to_thread(upgrade, url)
        engine = create_engine(url, pool_size=3)
        try:
            return await measure(args, url, engine)
        finally:
            await engine.dispose()
    finally:
        drop_database(server_url, name)


async def measure(args: argparse.Namespace, url: str, engine: AsyncEngine) -> dict[str, Any]:
    program = load_program(PROGRAM)
    print(f"seeding about {args.entries} entries …", file=sys.stderr)
    t0 = time.perf_counter()
    portal = await seed(engine, program, args.entries, args.customers)
    seeding = time.perf_counter() - t0
    async with engine.connect() as conn:
        entries = int(await conn.scalar(text("SELECT count(*) FROM ledger_entries")) or 0)
        print(f"{entries} entries in {seeding:.0f} s; checking the invariants …", file=sys.stderr)
        broken = await check_invariants(conn)
        book, program = await active_program(conn, portal, NOW)
        span = parse_range("", "", program.tz, NOW)
        token = await sessions.open_session(conn, "admin", portal, None, NOW, 3600)
        await conn.commit()
    services = Services(
        engine=engine, database_url=url, settings=Settings(cabinet_portal=""), now=lambda: NOW
    )
    app = create_app(services)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://bench",
        cookies={"kop_admin": token},
    )

    async def baseline(conn: AsyncConnection) -> None:
        (await conn.execute(text(BASELINE), {"program": book.program_id})).all()

    async def report(conn: AsyncConnection) -> None:
        await conn.execution_options(isolation_level="REPEATABLE READ")
        await build_report(conn, book, program, span, NOW)

    month = parse_range("2026-11-01", "2026-11-30", program.tz, NOW)

    async def report_month(conn: AsyncConnection) -> None:
        await conn.execution_options(isolation_level="REPEATABLE READ")
        await build_report(conn, book, program, month, NOW)

    async def page(conn: AsyncConnection) -> None:
        answer = await client.get("/admin/reports")
        assert answer.status_code == 200, answer.text[:500]
        assert answer.text.count('<svg class="chart"') == 4

    parts = query_parts(book, program, span)
    times: dict[str, list[float]] = {"sql": [], "report": [], "report_month": [], "page": []}
    part_times: dict[str, list[float]] = {k: [] for k in parts}
    sides = {"sql": baseline, "report": report, "report_month": report_month, "page": page}
    for side in sides.values():
        await timed(engine, side)  # warm
    for _ in range(args.repeat):
        for key, side in sides.items():
            times[key].append(await timed(engine, side))
        for key, part in parts.items():
            part_times[key].append(await timed(engine, part))
    await client.aclose()
    await services.aclose()
    medians = {k: statistics.median(v) for k, v in times.items()}
    plans = {}
    async with engine.connect() as conn:
        for key, (sql, params) in explained(book, span).items():
            rows = await conn.execute(text("EXPLAIN (ANALYZE, COSTS OFF) " + sql), params)
            plans[key] = [r[0] for r in rows]
    return {
        "entries": entries,
        "customers": args.customers,
        "range": [span.first.isoformat(), span.last.isoformat()],
        "seeding_seconds": round(seeding, 1),
        "invariants_hold": not broken,
        "repeat": args.repeat,
        "seconds": {k: [round(x, 4) for x in v] for k, v in times.items()},
        "median_seconds": {k: round(v, 4) for k, v in medians.items()},
        "query_median_seconds": {k: round(statistics.median(v), 4) for k, v in part_times.items()},
        "ratio_report_to_sql": round(medians["report"] / medians["sql"], 2),
        "ratio_page_to_sql": round(medians["page"] / medians["sql"], 2),
        "goal_page_seconds": GOAL,
        "plans": plans,
    }


def query_parts(
    book: Book, program: Program, span: Any
) -> dict[str, Callable[[AsyncConnection], Awaitable[Any]]]:
    p = book.program_id
    return {
        "movements": lambda c: queries.movements(c, p, span),
        "expiring": lambda c: queries.expiring(c, p, NOW, HORIZONS),
        "top_balance": lambda c: queries.top_balance(c, p, TOP),
        "manual": lambda c: queries.manual_grants(c, p, span),
        "levels": lambda c: level_distribution(c, book, program, NOW),
    }


def explained(book: Book, span: Any) -> dict[str, tuple[str, dict[str, Any]]]:
    ranged = {"program": book.program_id, "since": span.since, "until": span.until}
    return {
        "baseline": (BASELINE, {"program": book.program_id}),
        "movements": (
            str(queries.RANGE),
            ranged | {"unit": span.unit, "tz": span.tz.key},
        ),
        "manual": (str(queries.MANUAL), ranged),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.reports", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--entries", type=int, default=1_000_000, help="ledger entries (1 000 000)")
    parser.add_argument("--customers", type=int, default=20_000, help="customers (20 000)")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of each side (7)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    with pg_server() as server:
        facts = machine_facts(server.url)
        result = asyncio.run(run(args, server.url))
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": facts,
        **result,
        "verdict": (
            "met"
            if result["invariants_hold"] and result["median_seconds"]["page"] < GOAL
            else "NOT met"
        ),
    }
    print(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
