"""``bench.growth --plans``: ``EXPLAIN (ANALYZE, BUFFERS)`` of every SELECT an operation runs,
captured as the app ran it (statement and parameters), and the indexes each plan uses."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from bench.growth import Bench

BIG = (
    "ledger_entries",
    "ledger_transactions",
    "lots",
    "accounts",
    "customers",
    "b24_deals",
    "b24_deal_shares",
)
INDEX = re.compile(
    r"(?:Index Scan|Index Only Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) (\w+)"
)
SEQ = re.compile(r"Seq Scan on (\w+)")
TIME = re.compile(r"Execution Time: ([\d.]+) ms")


@contextmanager
def capture(engine: AsyncEngine) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        head = statement.lstrip().upper()
        if head.startswith(("SELECT", "WITH")) and "PG_ADVISORY" not in head:
            seen.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)


async def explain_all(bench: Bench, capture: Any) -> dict[str, Any]:
    """Each operation once for the customer with the longest history, its SELECTs explained."""
    heavy = await bench.heaviest()
    out: dict[str, Any] = {"customer": await bench.person(heavy)}
    for name in ("balance", "cabinet", "sync"):
        op = await getattr(bench, name)(heavy)
        with capture(bench.engine) as seen:
            await op()
        plans = []
        done: set[str] = set()
        for statement, parameters in seen:
            if statement in done:
                continue
            done.add(statement)
            async with bench.engine.connect() as conn:
                rows = await conn.exec_driver_sql(
                    "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
                )
                lines = [r[0] for r in rows]
                await conn.rollback()
            text = "\n".join(lines)
            found = TIME.search(text)
            plans.append(
                {
                    "sql": " ".join(statement.split()),
                    "ms": float(found.group(1)) if found else None,
                    "indexes": sorted(set(INDEX.findall(text))),
                    "seq_scans": sorted({t for t in SEQ.findall(text) if t in BIG}),
                    "plan": lines,
                }
            )
        out[name] = plans
    return out


def print_plans(plans: dict[str, Any]) -> None:
    who = plans["customer"]
    print(f"\nplans for customer {who['g']} ({who['purchases']} purchases, the longest history)")
    for name in ("balance", "cabinet", "sync"):
        print(f"\n=== {name}: {len(plans[name])} SELECTs")
        for p in plans[name]:
            flag = f"  SEQ SCAN {p['seq_scans']}" if p["seq_scans"] else ""
            print(f"\n--- {p['ms']} ms, indexes {p['indexes']}{flag}\n{p['sql'][:400]}")
            for line in p["plan"]:
                print("    " + line)
