"""The what-if replay (issue 14) over 100 000 recorded won deals, as a ratio to bench/totals' SQL
baseline (one hand-written aggregate over the same deals' shares), in the same run.

Run ``python -m bench.whatif [--deals N] [--contacts N] [--repeat R] [--json out]``.

One PostgreSQL server (a throw-away embedded one, or ``KOPILKA_BENCH_DATABASE_URL``), one
database migrated to head, seeded with SQL (``generate_series``) the way bench/totals seeds it —
N won deals (100 000) of C contacts (20 000) over six years and four pipelines, one deal in ten
shared by two contacts, each contact's share in ``b24_deal_shares`` — plus what the sync records
for a what-if: ``b24_deals.engine_input`` (two product rows, «Ремонт» and «Расходники», the
contacts, the close). The program in force is ``examples/car-service.yaml`` (levels by won deals,
eligible sections); every deal's accruals under it are posted to the ledger (``accrue_many``,
2 000 a transaction) as the sync would have, so the what-if reads a real book.

Timed, warm (one untimed run each first), alternating, R times each, median:

* baseline: bench/totals' ``BASELINE`` statement (the yearly totals of every contact, rows
  fetched into Python);
* Kopilka: ``lifecycle.whatif.what_if`` of a candidate (car-service with other tiers and
  rates) over every recorded won deal: the reads (deals, shares, live accruals) and the replay.

Checked: the what-if of the program in force over its own book differs by zero points (the
replay gives what the ledger holds), and the candidate's covers every deal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bench.ledger import create_database, drop_database, machine_facts, pg_server
from bench.totals import BASELINE, SEED, SHARES
from kopilka.db.engine import create_engine
from kopilka.db.migrate import upgrade
from kopilka.ledger.accrual import AccrualRequest, accrue_many
from kopilka.ledger.book import ensure_customers, ensure_portal
from kopilka.ledger.types import Book
from kopilka.lifecycle.replay import replay
from kopilka.lifecycle.service import install_program
from kopilka.lifecycle.whatif import recorded_deals, what_if
from kopilka.program.loader import parse_program
from kopilka.program.model import Program

PROGRAM = Path(__file__).parents[1] / "examples" / "car-service.yaml"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
POST_BATCH = 2_000

#: What the sync records of each won deal (domain.deal_codec, layout 1): 70 % of the amount in a
#: repair row (section 12), the rest consumables (14); the first contact is the primary one.
ENGINE_INPUT = """
UPDATE b24_deals d SET engine_input = jsonb_build_object(
    'v', 1, 'id', d.deal_id, 'pipeline_id', d.category_id, 'stage', 'won',
    'opportunity', d.amount, 'company_id', NULL, 'points_to_pay', 0, 'fields', '{}'::jsonb,
    'closed_at', to_jsonb(d.closed_at),
    'contacts', (SELECT jsonb_agg(jsonb_build_object(
                     'id', c.id, 'type_id', 'CLIENT', 'fields', '{}'::jsonb, 'birthdate', NULL,
                     'share', NULL, 'is_primary', c.n = 1) ORDER BY c.n)
                 FROM unnest(d.contact_ids) WITH ORDINALITY AS c(id, n)),
    'rows', jsonb_build_array(
        jsonb_build_object('product_id', 1, 'name', 'Ремонт', 'price', d.amount * 7 / 10,
                           'quantity', 1, 'section_id', 12, 'properties', '{}'::jsonb),
        jsonb_build_object('product_id', 6, 'name', 'Расходники',
                           'price', d.amount - d.amount * 7 / 10,
                           'quantity', 1, 'section_id', 14, 'properties', '{}'::jsonb)))
WHERE d.portal_id = :portal
"""


def candidate_of(program_text: str) -> Program:
    """car-service with other tiers and rates: what an owner might try."""
    edited = (
        program_text.replace("from: 3, percent: 5", "from: 2, percent: 6")
        .replace("from: 6, percent: 7", "from: 5, percent: 9")
        .replace("include: [repair, tuning]", "include: [repair, tuning, consumables]")
    )
    assert edited != program_text
    return parse_program(edited, "candidate.yaml")


async def seed(
    engine: AsyncEngine, program: Program, source: str, deals: int, contacts: int
) -> tuple[int, Book]:
    async with engine.begin() as conn:
        portal = await ensure_portal(conn, f"bench-{uuid.uuid4().hex[:8]}", "bench.example")
        book = await install_program(conn, portal, program, source, now=NOW)
        params = {"portal": portal, "deals": deals, "contacts": contacts}
        await conn.execute(text(SEED), params)
        await conn.execute(text(SHARES), {"portal": portal})
        await conn.execute(text(ENGINE_INPUT), {"portal": portal})
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE b24_deals"))
        await conn.execute(text("ANALYZE b24_deal_shares"))
    # the live accruals: each deal priced by the program in force, as the sync posts them
    async with engine.connect() as conn:
        recorded, _ = await recorded_deals(conn, portal, {})
    priced, _ = replay(program, recorded, NOW)
    async with engine.begin() as conn:
        ids = await ensure_customers(
            conn, portal, {f"contact:{c}": f"Клиент {c}" for c in range(1, contacts + 1)}
        )
    requests = [
        AccrualRequest(
            customer_id=ids[f"contact:{a.contact_id}"],
            amount=a.amount,
            key=f"deal:{r.deal.id}:{n}:accrual",
            reason=a.explanation_ru,
            actor="sync",
            now=NOW,
            rule_id=a.rule_id,
            rule_inputs=a.rule_inputs,
            available_at=a.available_at,
            expires_at=a.expires_at,
            reference=f"deal:{r.deal.id}",
        )
        for r in priced
        for n, a in enumerate((a for a in r.effects.accruals if a.amount > 0), start=1)
    ]
    for start in range(0, len(requests), POST_BATCH):
        async with engine.begin() as conn:
            await accrue_many(conn, book, requests[start : start + POST_BATCH])
    async with engine.begin() as conn:
        for table in ("ledger_transactions", "ledger_entries", "lots", "accounts", "customers"):
            await conn.execute(text(f"ANALYZE {table}"))
    return portal, book


async def timed(engine: AsyncEngine, work: Any) -> tuple[float, Any]:
    async with engine.connect() as conn:
        started = time.perf_counter()
        answer = await work(conn)
        elapsed = time.perf_counter() - started
        await conn.rollback()
    return elapsed, answer


async def run(args: argparse.Namespace, server_url: str) -> dict[str, Any]:
    name = f"kopilka_bench_whatif_{uuid.uuid4().hex[:8]}"
    url = create_database(server_url, name)
    try:
        await asyncio.to_thread(upgrade, url)
        engine = create_engine(url, pool_size=2)
        try:
            source = PROGRAM.read_text(encoding="utf-8")
            program = parse_program(source, PROGRAM.name)
            candidate = candidate_of(source)
            print(f"seeding {args.deals} deals of {args.contacts} contacts …", file=sys.stderr)
            t0 = time.perf_counter()
            portal, book = await seed(engine, program, source, args.deals, args.contacts)
            seeding = time.perf_counter() - t0

            async def base_work(conn: AsyncConnection) -> Any:
                rows = await conn.execute(
                    text(BASELINE),
                    {"portal": portal, "tz": "Europe/Moscow", "y0": 2021, "y1": 2027},
                )
                return rows.all()

            async def ours(conn: AsyncConnection, which: Program = candidate) -> Any:
                return await what_if(conn, book, program, which, since=None, now=NOW)

            async def itself(conn: AsyncConnection) -> Any:
                return await ours(conn, program)

            _, same = await timed(engine, itself)
            _, base = await timed(engine, base_work)
            _, found = await timed(engine, ours)
            times: dict[str, list[float]] = {"sql": [], "kopilka": []}
            for _ in range(args.repeat):
                times["sql"].append((await timed(engine, base_work))[0])
                times["kopilka"].append((await timed(engine, ours))[0])
            medians = {k: statistics.median(v) for k, v in times.items()}
            report = found.report
            return {
                "deals": args.deals,
                "contacts": args.contacts,
                "seeding_seconds": round(seeding, 1),
                "repeat": args.repeat,
                "in_force_replays_its_own_book": same.report.difference == 0
                and same.report.replayed == args.deals,
                "baseline_rows": len(base),
                "replayed": report.replayed,
                "earned": report.earned,
                "would_earn": report.would_earn,
                "level_changes": report.level_changes,
                "seconds": {k: [round(x, 3) for x in v] for k, v in times.items()},
                "median_seconds": {k: round(v, 3) for k, v in medians.items()},
                "ratio": round(medians["kopilka"] / medians["sql"], 2),
                "deals_per_second": round(args.deals / medians["kopilka"]),
            }
        finally:
            await engine.dispose()
    finally:
        drop_database(server_url, name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.whatif", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--deals", type=int, default=100_000, help="won deals (100 000)")
    parser.add_argument("--contacts", type=int, default=20_000, help="contacts (20 000)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each side (5)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    with pg_server() as server:
        facts = machine_facts(server.url)
        result = asyncio.run(run(args, server.url))
    report = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "machine": facts, **result}
    print(json.dumps(report, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
