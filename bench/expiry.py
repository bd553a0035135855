"""Expiring a million lots at once (R-09, the year-end reset of seed 004), as a ratio to one
hand-written SQL statement doing the same bookkeeping, in the same run (issue 21, item 2).

Run ``python -m bench.expiry [--customers N] [--lots-per-customer K] [--rounds R] [--json out]``.

One PostgreSQL server (a throw-away embedded one, or ``KOPILKA_BENCH_DATABASE_URL``), one database
migrated to head and seeded with SQL (``generate_series``): N customers (200 000), each with one
accrual transaction that created K lots (5: 1 000 000 lots), every lot due at one moment (the
year end), the books as the triggers would keep them (balances, remainders, balanced legs). The
seeded database is the template of a fresh copy for every timed run, so both sides start from the
same bytes. Alternating (SQL, Kopilka, SQL, Kopilka …), R rounds:

* baseline: ONE statement — the due lots read, one ``expiry`` transaction per (account, due
  moment) inserted, and its legs (``customer −remaining``, ``expired +remaining``, each naming the
  lot) inserted; the ledger's triggers do what they do for any writer (balances, remainders, the
  nets-to-zero check at commit) — the same bookkeeping as Kopilka's, minus Kopilka's own reads;
* Kopilka: what ``kopilka expire`` does — ``ledger.expiry.due_accounts`` then
  ``expire_accounts`` for each batch of ``EXPIRY_BATCH`` accounts, one transaction per batch
  (idempotency keys with the input hash, accounts locked, lots read, balanced legs).

After each run the resulting books are fingerprinted (every customer account's balance, every
lot's remainder, the count and sum of expiry legs per account kind) and the two sides must
agree, or the script fails loudly.
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

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bench.ledger import _admin, create_database, drop_database, machine_facts, pg_server
from bench.seed import run_untriggered, system_account, vacuum_analyze
from kopilka.db.engine import create_engine, run_in_transaction
from kopilka.db.migrate import upgrade
from kopilka.ledger import book as books
from kopilka.ledger.book import ensure_book, ensure_portal
from kopilka.ledger.expiry import EXPIRY_BATCH, EXPIRY_WORKERS, due_accounts, expire_due
from kopilka.ledger.types import Book

GOAL = 2.0  # Kopilka's time at most twice the one statement's
EARNED = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DUE = datetime(2026, 12, 31, 21, 0, tzinfo=UTC)  # 2027-01-01 00:00 Moscow: the year-end reset
NOW = datetime(2027, 1, 1, 6, 0, tzinfo=UTC)

# The seed bypasses the triggers (``session_replication_role = replica``) and writes what they
# would have written: a lot's remainder is its amount, a balance the sum of its lots.
SEED = [
    """INSERT INTO customers (portal_id, external_id, name)
       SELECT :portal, 'C_' || g, 'bench' FROM generate_series(1, :customers) g""",
    """INSERT INTO accounts (portal_id, program_id, kind, customer_id)
       SELECT :portal, :program, 'customer', id FROM customers WHERE portal_id = :portal""",
    """INSERT INTO ledger_transactions (portal_id, program_id, kind, idempotency_key, input_hash,
                                       reason, actor, effective_at)
       SELECT :portal, :program, 'accrual', 'seed:' || a.id, md5(a.id::text), 'seed', 'bench',
              :earned
       FROM accounts a WHERE a.program_id = :program AND a.kind = 'customer'""",
    """INSERT INTO lots (account_id, transaction_id, amount, remaining, available_at, expires_at)
       SELECT a.id, t.id, 100 + (a.id * 7919 + k * 104729) % 100000,
              100 + (a.id * 7919 + k * 104729) % 100000, :earned, :due
       FROM accounts a
       JOIN ledger_transactions t ON t.portal_id = :portal AND t.idempotency_key = 'seed:' || a.id
       CROSS JOIN generate_series(1, :per) k
       WHERE a.program_id = :program AND a.kind = 'customer'""",
    """INSERT INTO ledger_entries (transaction_id, account_id, lot_id, amount)
       SELECT l.transaction_id, l.account_id, l.id, l.amount FROM lots l
       JOIN accounts a ON a.id = l.account_id WHERE a.program_id = :program
       UNION ALL
       SELECT l.transaction_id, :issued, NULL, -sum(l.amount) FROM lots l
       JOIN accounts a ON a.id = l.account_id WHERE a.program_id = :program
       GROUP BY l.transaction_id""",
    """UPDATE accounts a SET balance = s.total
       FROM (SELECT account_id, sum(remaining) AS total FROM lots GROUP BY account_id) s
       WHERE s.account_id = a.id""",
]

#: The baseline: the expiry's bookkeeping as one statement a person would write by hand.
BASELINE = """
WITH due AS (
    SELECT l.id, l.account_id, l.remaining, l.expires_at
    FROM lots l JOIN accounts a ON a.id = l.account_id
    WHERE a.program_id = :program AND a.kind = 'customer'
      AND l.remaining > 0 AND l.expires_at <= :now
), moments AS (
    SELECT DISTINCT account_id, expires_at FROM due
), tx AS (
    INSERT INTO ledger_transactions (portal_id, program_id, kind, idempotency_key, input_hash,
                                     reason, actor, effective_at)
    SELECT :portal, :program, 'expiry',
           'sql-expiry:' || account_id || ':' || extract(epoch FROM expires_at),
           md5(account_id || ':' || expires_at), 'expired at the year end', 'system', expires_at
    FROM moments
    RETURNING id, idempotency_key
)
INSERT INTO ledger_entries (transaction_id, account_id, lot_id, amount)
SELECT tx.id, leg.account_id, d.id, leg.amount
FROM due d
JOIN tx ON tx.idempotency_key
           = 'sql-expiry:' || d.account_id || ':' || extract(epoch FROM d.expires_at)
CROSS JOIN LATERAL (VALUES (d.account_id, -d.remaining), (:expired, d.remaining))
    AS leg(account_id, amount)
"""

#: What both sides must leave behind, the same to the kopeck.
FINGERPRINT = """
SELECT
  (SELECT md5(string_agg(id || ':' || balance, ',' ORDER BY id)) FROM accounts
    WHERE program_id = :program AND kind = 'customer') AS balances,
  (SELECT md5(string_agg(id || ':' || remaining, ',' ORDER BY id)) FROM lots) AS remainders,
  (SELECT CAST(sum(balance) AS bigint) FROM accounts WHERE program_id = :program
    AND kind = 'customer') AS points,
  (SELECT count(*) FROM ledger_transactions WHERE kind = 'expiry') AS transactions,
  (SELECT count(*) FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
    WHERE t.kind = 'expiry') AS legs,
  (SELECT CAST(sum(e.amount) AS bigint) FROM ledger_entries e JOIN ledger_transactions t
    ON t.id = e.transaction_id WHERE t.kind = 'expiry' AND e.account_id = :expired) AS expired
"""


async def seed(engine: AsyncEngine, customers: int, per: int) -> Book:
    async def book_and_accounts(conn: AsyncConnection) -> Book:
        portal = await ensure_portal(conn, f"bench-{uuid.uuid4().hex[:8]}.bitrix24.ru", "bench")
        book = await ensure_book(
            conn, portal, code="reset", title="year-end reset", timezone="Europe/Moscow"
        )
        await books.accounts(conn, book, [], [])  # the system accounts
        return book

    book = await run_in_transaction(engine, book_and_accounts)
    async with engine.begin() as conn:
        issued = await system_account(conn, book, "issued")
        params = {
            "portal": book.portal_id,
            "program": book.program_id,
            "customers": customers,
            "per": per,
            "earned": EARNED,
            "due": DUE,
            "issued": issued,
        }
        await run_untriggered(conn, SEED, params)
    await vacuum_analyze(engine)
    return book


async def baseline(engine: AsyncEngine, book: Book) -> None:
    async with engine.begin() as conn:
        expired = await system_account(conn, book, "expired")
        await conn.execute(
            text(BASELINE),
            {"portal": book.portal_id, "program": book.program_id, "now": NOW, "expired": expired},
        )


async def kopilka(engine: AsyncEngine, book: Book) -> None:
    """``kopilka expire``'s ledger path, without its progress bar."""

    async def due(conn: AsyncConnection) -> list[int]:
        return await due_accounts(conn, book, NOW)

    accounts = await run_in_transaction(engine, due)
    await expire_due(engine, book, accounts, now=NOW)


async def fingerprint(engine: AsyncEngine, book: Book) -> dict[str, Any]:
    async with engine.connect() as conn:
        expired = await system_account(conn, book, "expired")
        row = (
            await conn.execute(text(FINGERPRINT), {"program": book.program_id, "expired": expired})
        ).one()
    return {k: (int(v) if isinstance(v, int) else v) for k, v in row._mapping.items()}


async def timed_run(server_url: str, template: str, book: Book, side: str) -> tuple[float, Any]:
    name = f"kopilka_bench_expiry_{side}_{uuid.uuid4().hex[:6]}"
    url = copy_database(server_url, template, name)
    engine = create_engine(url, pool_size=2)
    try:
        work = baseline if side == "sql" else kopilka
        t0 = time.perf_counter()
        await work(engine, book)
        seconds = time.perf_counter() - t0
        return seconds, await fingerprint(engine, book)
    finally:
        await engine.dispose()
        drop_database(server_url, name)


def copy_database(server_url: str, template: str, name: str) -> str:
    """A fresh database, a file copy of ``template`` (the seeded books)."""
    with psycopg.connect(_admin(server_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def run(args: argparse.Namespace, server_url: str) -> dict[str, Any]:
    template = f"kopilka_bench_expiry_seed_{uuid.uuid4().hex[:6]}"
    url = create_database(server_url, template)
    try:
        await asyncio.to_thread(upgrade, url)
        engine = create_engine(url, pool_size=2)
        lots = args.customers * args.lots_per_customer
        print(f"seeding {lots} lots of {args.customers} customers …", file=sys.stderr)
        t0 = time.perf_counter()
        try:
            book = await seed(engine, args.customers, args.lots_per_customer)
        finally:
            await engine.dispose()
        seeding = time.perf_counter() - t0
        times: dict[str, list[float]] = {"sql": [], "kopilka": []}
        prints: dict[str, list[Any]] = {"sql": [], "kopilka": []}
        for r in range(args.rounds):
            for side in ("sql", "kopilka"):
                print(f"round {r + 1}: {side} …", file=sys.stderr)
                seconds, found = await timed_run(server_url, template, book, side)
                print(f"round {r + 1}: {side} {seconds:.1f} s", file=sys.stderr)
                times[side].append(seconds)
                prints[side].append(found)
        first = prints["sql"][0]
        same = all(p == first for side in prints.values() for p in side)
        medians = {k: statistics.median(v) for k, v in times.items()}
        return {
            "customers": args.customers,
            "lots": lots,
            "seeding_seconds": round(seeding, 1),
            "expiry_batch": EXPIRY_BATCH,
            "expiry_workers": EXPIRY_WORKERS,
            "rounds": args.rounds,
            "seconds": {k: [round(x, 2) for x in v] for k, v in times.items()},
            "median_seconds": {k: round(v, 2) for k, v in medians.items()},
            "ratio": round(medians["kopilka"] / medians["sql"], 3),
            "goal": GOAL,
            "same_books": same,
            "books": prints,
        }
    finally:
        drop_database(server_url, template)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.expiry", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--customers", type=int, default=200_000, help="customers (200 000)")
    parser.add_argument("--lots-per-customer", type=int, default=5, help="due lots each (5)")
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds (1)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    with pg_server() as server:
        facts = machine_facts(server.url)
        result = asyncio.run(run(args, server.url))
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": facts,
        **result,
        "verdict": ("met" if result["same_books"] and result["ratio"] <= GOAL else "NOT met"),
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    if not result["same_books"]:
        print("FAILED: the two sides left different books", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
