"""Rows and bytes the ledger keeps per accrual and per redemption (docs/scale.md).

Posts ``--accruals`` accruals (a won deal's cashback: key, reference, rule and rule inputs as the
sync writes them, one lot each, expiring in a year) over ``--customers`` customers, then
``--redemptions`` redemptions, through the ledger's own commands, and prints for each ledger
table the rows each phase added and the bytes per row (heap, and heap with indexes) after
``VACUUM ANALYZE``. The server is the embedded one, or ``KOPILKA_BENCH_DATABASE_URL``::

    .venv/bin/python scripts/ledger_footprint.py [--customers 2000] [--accruals 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from bench.ledger import create_database, drop_database, pg_server  # noqa: E402
from sqlalchemy import text  # noqa: E402

from kopilka.db.engine import create_engine  # noqa: E402
from kopilka.db.migrate import upgrade  # noqa: E402
from kopilka.ledger.accrual import AccrualRequest, accrue_many  # noqa: E402
from kopilka.ledger.book import ensure_book, ensure_customers, ensure_portal  # noqa: E402
from kopilka.ledger.spending import RedemptionRequest, redeem_many  # noqa: E402

TABLES = ("ledger_transactions", "ledger_entries", "lots", "notification_events", "accounts")
BATCH = 500


async def populate(
    url: str, customers: int, accruals: int, redemptions: int
) -> list[dict[str, int]]:
    engine = create_engine(url)
    now = datetime(2026, 6, 1, tzinfo=UTC)
    counts: list[dict[str, int]] = []
    try:
        async with engine.begin() as conn:
            portal = await ensure_portal(conn, "footprint.bitrix24.ru", "footprint")
            book = await ensure_book(
                conn,
                portal,
                code="retail",
                title="Retail",
                timezone="Europe/Moscow",
                program_hash="0" * 64,
            )
            ids = await ensure_customers(
                conn, portal, {f"contact:{i}": f"Customer {i}" for i in range(customers)}
            )
        people = [ids[f"contact:{i}"] for i in range(customers)]
        counts.append(await count(engine))
        for start in range(0, accruals, BATCH):
            requests = [
                AccrualRequest(
                    people[n % customers],
                    500 + n % 4000,
                    f"b24:deal:{100000 + n}:earn:{n % 3}",
                    "deal won",
                    "b24:robot",
                    now,
                    source="bitrix24",
                    rule_id="cashback-5",
                    reference=f"deal:{100000 + n}",
                    rule_inputs={
                        "deal_id": 100000 + n,
                        "amount": 10000 + n,
                        "percent": "5",
                        "level": "silver",
                        "category": 0,
                    },
                    expires_at=now + timedelta(days=365),
                )
                for n in range(start, min(start + BATCH, accruals))
            ]
            async with engine.begin() as conn:
                await accrue_many(conn, book, requests)
        counts.append(await count(engine))
        for start in range(0, redemptions, BATCH):
            spends = [
                RedemptionRequest(
                    people[n % customers],
                    300,
                    f"b24:deal:{900000 + n}:pay",
                    "deal paid",
                    "b24:user:1 Manager",
                    now,
                    source="bitrix24",
                    reference=f"deal:{900000 + n}",
                )
                for n in range(start, min(start + BATCH, redemptions))
            ]
            async with engine.begin() as conn:
                await redeem_many(conn, book, spends)
        counts.append(await count(engine))
    finally:
        await engine.dispose()
    return counts


async def count(engine: object) -> dict[str, int]:
    async with engine.connect() as conn:  # type: ignore[attr-defined]
        found = {}
        for t in TABLES:
            query = text(f"SELECT count(*) FROM {t}")  # noqa: S608 - our own table names
            found[t] = int(await conn.scalar(query))
        return found


def sizes(url: str) -> dict[str, tuple[int, int]]:
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        return {
            t: conn.execute(
                "SELECT pg_relation_size(%s::regclass), pg_total_relation_size(%s::regclass)",
                (t, t),
            ).fetchone()  # type: ignore[misc]
            for t in TABLES
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--accruals", type=int, default=20000)
    parser.add_argument("--redemptions", type=int, default=5000)
    args = parser.parse_args()
    with pg_server() as server:
        name = f"kopilka_footprint_{uuid.uuid4().hex[:8]}"
        url = create_database(server.url, name)
        try:
            upgrade(url)
            before, accrued, redeemed = asyncio.run(
                populate(url, args.customers, args.accruals, args.redemptions)
            )
            measured = sizes(url)
        finally:
            drop_database(server.url, name)
    print(
        f"{args.accruals} accruals, then {args.redemptions} redemptions, "
        f"over {args.customers} customers"
    )
    print(
        f"{'table':22} {'rows/accrual':>12} {'rows/redemption':>15} "
        f"{'heap B/row':>10} {'total B/row':>11}"
    )
    for t in TABLES:
        per_accrual = (accrued[t] - before[t]) / args.accruals
        per_redemption = (redeemed[t] - accrued[t]) / max(args.redemptions, 1)
        heap, total = measured[t]
        rows = max(redeemed[t], 1)
        print(
            f"{t:22} {per_accrual:12.2f} {per_redemption:15.2f} "
            f"{heap / rows:10.0f} {total / rows:11.0f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
