"""Recomputing every contact's yearly totals (R-16), as a ratio to one hand-written SQL aggregate
over the same data, in the same run.

Run ``python -m bench.totals [--deals N] [--contacts N] [--repeat R] [--refresh] [--json out]``.

One PostgreSQL server (a throw-away embedded one, or ``KOPILKA_BENCH_DATABASE_URL``), one
database migrated to head, seeded with SQL (``generate_series``): N won deals (100 000) of C
contacts (20 000) as the deal sync records them (``b24_deals`` and each contact's share in
``b24_deal_shares``), spread over six years and four pipelines, one deal in ten shared by two
contacts. The program is ``examples/travel-club.yaml`` (two totals rules: trips; events and shows;
this year and five back).

Timed, warm (one untimed run each first), alternating, R times each, median:

* baseline: ONE hand-written aggregate returning (contact, field prefix, year, sum) for both rules
  at once, rows fetched into Python;
* Kopilka: ``standing.yearly_totals(conn, portal, program, now, contact_ids=None)``, which returns
  every contact's every field (zeros included, so stale values get reset).

Both answers are checked to be the same numbers. With ``--refresh`` the
whole daily path (``writeback.refresh_contacts`` for every contact, 500 a transaction, rolled
back) is timed too.
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

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bench.ledger import create_database, drop_database, machine_facts, pg_server
from kopilka.bitrix24.standing import yearly_totals
from kopilka.bitrix24.writeback import refresh_contacts
from kopilka.db.engine import create_engine
from kopilka.db.migrate import upgrade
from kopilka.ledger.book import ensure_portal
from kopilka.lifecycle.service import install_program
from kopilka.program.loader import load_program
from kopilka.program.model import Program

GOAL = 2.0  # Kopilka's time at most twice the SQL aggregate's
PROGRAM = Path(__file__).parents[1] / "examples" / "travel-club.yaml"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

SEED = """
INSERT INTO b24_deals (portal_id, deal_id, category_id, stage_id, semantic, amount, contact_ids,
                       closed_at, modified_at, applied_discount, synced_at)
SELECT :portal, d,
       (ARRAY[0, 0, 0, 0, 0, 2, 2, 2, 3, 7])[1 + (d * 7) % 10],      -- pipelines, weighted
       'WON', 'S',
       100000 + (d * 2654435761) % 30000000,                          -- 1 000 - 301 000 roubles
       CASE WHEN d % 10 = 0
            THEN ARRAY[1 + (d * 48271) % :contacts, 1 + (d * 48271 + 7919) % :contacts]
            ELSE ARRAY[1 + (d * 48271) % :contacts] END,
       timestamptz '2021-01-01 00:00+03' + ((d * 40503) % (6 * 365 * 24 * 60)) * interval '1 min',
       now(), '{}'::jsonb, now()
FROM generate_series(CAST(1 AS bigint), :deals) AS d
"""
SHARES = """
INSERT INTO b24_deal_shares (portal_id, deal_id, contact_id, category_id, closed_at, amount)
SELECT d.portal_id, d.deal_id, c.contact_id, d.category_id, d.closed_at,
       d.amount / cardinality(d.contact_ids)
         + CASE WHEN c.n = 1 THEN d.amount % cardinality(d.contact_ids) ELSE 0 END
FROM b24_deals d, unnest(d.contact_ids) WITH ORDINALITY AS c(contact_id, n)
WHERE d.portal_id = :portal
"""
#: The baseline: what a person would write by hand for these two rules, in one statement.
BASELINE = """
SELECT s.contact_id, r.prefix,
       CAST(extract(year FROM s.closed_at AT TIME ZONE :tz) AS int) AS year,
       sum(s.amount) AS amount
FROM b24_deal_shares s
JOIN (VALUES (0, 'TRAVEL'), (2, 'EVENTS'), (3, 'EVENTS')) AS r(category_id, prefix)
  ON r.category_id = s.category_id
WHERE s.portal_id = :portal
  AND s.closed_at >= make_timestamptz(:y0, 1, 1, 0, 0, 0, :tz)
  AND s.closed_at < make_timestamptz(:y1, 1, 1, 0, 0, 0, :tz)
GROUP BY 1, 2, 3
"""


async def seed(engine: AsyncEngine, program: Program, deals: int, contacts: int) -> int:
    async with engine.begin() as conn:
        portal = await ensure_portal(conn, f"bench-{uuid.uuid4().hex[:8]}", "bench.example")
        await install_program(conn, portal, program, PROGRAM.read_text(encoding="utf-8"))
        params = {"portal": portal, "deals": deals, "contacts": contacts}
        await conn.execute(text(SEED), params)
        await conn.execute(text(SHARES), {"portal": portal})
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE b24_deals"))
        await conn.execute(text("ANALYZE b24_deal_shares"))
    return portal


async def baseline(conn: AsyncConnection, portal: int, program: Program) -> list[Any]:
    this_year = NOW.astimezone(program.tz).year
    rows = await conn.execute(
        text(BASELINE),
        {"portal": portal, "tz": program.timezone, "y0": this_year - 5, "y1": this_year + 1},
    )
    return list(rows.all())


async def kopilka(conn: AsyncConnection, portal: int, program: Program) -> dict[int, Any]:
    return await yearly_totals(conn, portal, program, NOW)


def same_numbers(base: list[Any], ours: dict[int, dict[str, int]]) -> tuple[bool, dict[str, Any]]:
    expected: dict[tuple[int, str], int] = {}
    for row in base:
        expected[(int(row.contact_id), f"UF_CRM_{row.prefix}_{row.year}")] = int(row.amount)
    got = {(c, f): v for c, fields in ours.items() for f, v in fields.items() if v}
    return expected == got, {
        "baseline_rows": len(expected),
        "kopilka_nonzero_fields": len(got),
        "kopilka_fields": sum(len(f) for f in ours.values()),
        "contacts": len(ours),
    }


async def timed(engine: AsyncEngine, work: Callable[[AsyncConnection], Awaitable[Any]]) -> float:
    async with engine.connect() as conn:
        started = time.perf_counter()
        await work(conn)
        elapsed = time.perf_counter() - started
        await conn.rollback()
    return elapsed


async def refresh_everyone(conn: AsyncConnection, portal: int, program: Program) -> None:
    book = await install_program(conn, portal, program, PROGRAM.read_text(encoding="utf-8"))
    ids = [
        int(c)
        for c in await conn.scalars(
            text("SELECT DISTINCT contact_id FROM b24_deal_shares WHERE portal_id = :p ORDER BY 1"),
            {"p": portal},
        )
    ]
    for start in range(0, len(ids), 500):
        async with conn.begin_nested():
            await refresh_contacts(conn, book, program, portal, ids[start : start + 500], NOW)


async def run(args: argparse.Namespace, server_url: str) -> dict[str, Any]:
    name = f"kopilka_bench_totals_{uuid.uuid4().hex[:8]}"
    url = create_database(server_url, name)
    try:
        await asyncio.to_thread(upgrade, url)
        engine = create_engine(url, pool_size=2)
        try:
            program = load_program(PROGRAM)
            print(f"seeding {args.deals} deals of {args.contacts} contacts …", file=sys.stderr)
            t0 = time.perf_counter()
            portal = await seed(engine, program, args.deals, args.contacts)
            seeding = time.perf_counter() - t0
            async with engine.connect() as conn:
                shares = await conn.scalar(text("SELECT count(*) FROM b24_deal_shares"))
                base = await baseline(conn, portal, program)
                ours = await kopilka(conn, portal, program)
            equal, sizes = same_numbers(base, ours)

            async def base_work(conn: AsyncConnection) -> None:
                await baseline(conn, portal, program)

            async def our_work(conn: AsyncConnection) -> None:
                await kopilka(conn, portal, program)

            times: dict[str, list[float]] = {"sql": [], "kopilka": []}
            for _ in range(args.repeat):
                times["sql"].append(await timed(engine, base_work))
                times["kopilka"].append(await timed(engine, our_work))
            medians = {k: statistics.median(v) for k, v in times.items()}
            result: dict[str, Any] = {
                "deals": args.deals,
                "contacts": args.contacts,
                "shares": shares,
                "seeding_seconds": round(seeding, 1),
                "repeat": args.repeat,
                "same_numbers": equal,
                **sizes,
                "seconds": {k: [round(x, 4) for x in v] for k, v in times.items()},
                "median_seconds": {k: round(v, 4) for k, v in medians.items()},
                "ratio": round(medians["kopilka"] / medians["sql"], 3),
                "goal": GOAL,
            }
            if args.refresh:
                print("refresh_contacts for every contact …", file=sys.stderr)

                async def refresh_work(conn: AsyncConnection) -> None:
                    await refresh_everyone(conn, portal, program)

                runs = [await timed(engine, refresh_work) for _ in range(args.refresh_repeat)]
                result["refresh_seconds"] = [round(x, 2) for x in runs]
                result["refresh_median_seconds"] = round(statistics.median(runs), 2)
                result["refresh_ratio_to_sql"] = round(statistics.median(runs) / medians["sql"], 1)
            return result
        finally:
            await engine.dispose()
    finally:
        drop_database(server_url, name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.totals", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--deals", type=int, default=100_000, help="won deals (100 000)")
    parser.add_argument("--contacts", type=int, default=20_000, help="contacts (20 000)")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of each side (7)")
    parser.add_argument(
        "--refresh", action="store_true", help="also time refresh_contacts for every contact"
    )
    parser.add_argument("--refresh-repeat", type=int, default=3, help="its timed runs (3)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    with pg_server() as server:
        facts = machine_facts(server.url)
        result = asyncio.run(run(args, server.url))
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": facts,
        **result,
        "verdict": ("met" if result["same_numbers"] and result["ratio"] <= GOAL else "NOT met"),
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
