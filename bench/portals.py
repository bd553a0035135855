"""Many portals across many worker processes (issue 21, item 5): P portals, each behind its own
rate limit, D won deals hinted on each at once; 1, 2 and 4 ``kopilka worker`` processes; total
deals/s against the sum of the portals' bounds, and each portal's limit never exceeded.

Run ``python -m bench.portals [--portals 20] [--deals 200] [--workers 1 2 4] [--json out]``.

Every run has a database of its own and fresh portals (b24emu, HTTP on 127.0.0.1, burst 50 and
2 requests/s each), filled in process straight into the emulator's store (no events): D won deals
of retail contacts (one contact per five deals), one product row each. Each portal is connected
(``kopilka connect``, a webhook) and provisioned, untimed; every portal's bucket is then emptied.

Timed: W ``kopilka worker`` processes started; in one transaction every deal of every portal is
hinted (``mark_dirty``, as its event would) and each portal's sync deferred; until every deal has
its accrual. Kopilka's per-portal limiter (in the database: shared by the workers) paces each
portal at the production settings (interval 0.5 s, burst 10); timeline comments off.

The bound: a portal whose ``R_p`` accepted requests take at least ``R_p / 2`` s; all portals at
once at least ``max_p R_p / 2`` s. Each portal's emulator counts 503s and its bucket's highest
level: a limiter that never let a portal exceed its limit shows 0 and ≤ 50.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from typer.testing import CliRunner

from b24emu import EmuServer, Portal, RateLimit
from bench.backfill import fill
from bench.ledger import create_database, drop_database, machine_facts, pg_server
from kopilka.bitrix24.deferred import defer_sync
from kopilka.bitrix24.sync import mark_dirty
from kopilka.cli import app
from kopilka.config import get_settings
from kopilka.db.engine import create_engine, run_in_transaction
from kopilka.db.migrate import upgrade
from kopilka.process.devstack import example

RATE = RateLimit(burst=50, per_second=2.0, enabled=True)


def kopilka(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    if result.exit_code != 0:
        raise RuntimeError(f"kopilka {args[0]}: {result.output} {result.exception!r}")
    return result.output


@contextlib.contextmanager
def workers(url: str, n: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    env = {
        **os.environ,
        "KOPILKA_DATABASE_URL": url,
        "KOPILKA_B24_INTERVAL": "0.5",
        "KOPILKA_B24_BURST": "10",
        "KOPILKA_B24_TIMELINE_COMMENTS": "false",
        "KOPILKA_LOG_LEVEL": "WARNING",
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "kopilka", "worker"], env=env, stdout=subprocess.DEVNULL
        )
        for _ in range(n)
    ]
    try:
        yield procs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)


async def one_run(server_url: str, portals: int, deals: int, n_workers: int) -> dict[str, Any]:
    name = f"kopilka_bench_portals_{uuid.uuid4().hex[:8]}"
    url = create_database(server_url, name)
    os.environ["KOPILKA_DATABASE_URL"] = url
    os.environ["KOPILKA_B24_TIMELINE_COMMENTS"] = "false"
    get_settings.cache_clear()
    path, _source = example("retail-wholesale.yaml")
    served: list[tuple[Portal, EmuServer, int]] = []
    try:
        await asyncio.to_thread(upgrade, url)
        engine = create_engine(url, pool_size=2)
        print(f"{n_workers} worker(s): {portals} portals of {deals} deals …", file=sys.stderr)
        for i in range(portals):
            portal = Portal.seeded(
                "empty", rate_limit=RATE, member_id=f"bench-{i}", domain=f"p{i}.bitrix24.test"
            )
            fill(portal, deals)
            server = EmuServer(portal).start()
            webhook = portal.add_webhook(user_id=1, scopes=("crm", "user"))
            token = portal.add_outgoing_webhook(
                "http://127.0.0.1:9/b24/events", ("ONCRMDEALUPDATE",)
            )
            connect = ["connect", "--webhook", webhook, "--event-token", token, "-p", str(path)]
            await asyncio.to_thread(kopilka, *connect, "--member-id", portal.member_id)
            async with engine.connect() as conn:
                portal_id = int(
                    await conn.scalar(
                        text("SELECT id FROM portals WHERE member_id = :m"), {"m": portal.member_id}
                    )
                )
            await asyncio.to_thread(kopilka, "provision", "--portal", str(portal_id))
            served.append((portal, server, portal_id))
        print("connected and provisioned", file=sys.stderr)
        await asyncio.sleep(5)  # provisioning's requests drain from the buckets
        for portal, _server, _id in served:
            portal.rate_limit = RATE  # the setter empties the buckets
            portal.stats.reset()
        total = portals * deals
        with workers(url, n_workers):
            t0 = time.monotonic()

            async def hint(conn: Any) -> None:
                for portal, _server, portal_id in served:
                    await mark_dirty(conn, portal_id, list(portal.deals), "bench")
                    await defer_sync(conn, portal_id)

            await run_in_transaction(engine, hint)
            accrued = 0
            while accrued < total:
                await asyncio.sleep(0.5)
                async with engine.connect() as conn:
                    accrued = int(
                        await conn.scalar(
                            text("SELECT count(*) FROM ledger_transactions WHERE kind = 'accrual'")
                        )
                        or 0
                    )
                print(f"\r{accrued}/{total} accrued", end="", file=sys.stderr)
                if time.monotonic() - t0 > 900:
                    raise TimeoutError(f"{accrued} of {total} deals accrued after 15 minutes")
            seconds = time.monotonic() - t0
        await engine.dispose()
        per_portal = [
            {
                "requests": p.stats.requests_total,
                "rejected_503": p.stats.rejected_503,
                "max_bucket_level": round(p.stats.max_bucket_level, 1),
            }
            for p, _s, _i in served
        ]
        longest = max(p["requests"] - p["rejected_503"] for p in per_portal)
        bound = longest / RATE.per_second
        return {
            "workers": n_workers,
            "portals": portals,
            "deals": total,
            "seconds": round(seconds, 1),
            "deals_per_second": round(total / seconds, 1),
            "bound_seconds": round(bound, 1),
            "bound_deals_per_second": round(total / bound, 1),
            "of_the_bound": round(bound / seconds, 3),
            "requests": sum(p["requests"] for p in per_portal),
            "rejected_503": sum(p["rejected_503"] for p in per_portal),
            "max_bucket_level": max(p["max_bucket_level"] for p in per_portal),
            "limit_never_exceeded": all(
                p["rejected_503"] == 0 and p["max_bucket_level"] <= RATE.burst for p in per_portal
            ),
        }
    finally:
        for _p, server, _i in served:
            server.stop()
        drop_database(server_url, name)


async def run(args: argparse.Namespace, server_url: str) -> list[dict[str, Any]]:
    return [await one_run(server_url, args.portals, args.deals, w) for w in args.workers]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.portals", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--portals", type=int, default=20, help="portals (20)")
    parser.add_argument("--deals", type=int, default=200, help="won deals on each (200)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4], help="(1 2 4)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    with pg_server() as server:
        facts = machine_facts(server.url)
        runs = asyncio.run(run(args, server.url))
    report = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "machine": facts,
              "runs": runs}  # fmt: skip
    print(json.dumps(report, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    if not all(r["limit_never_exceeded"] for r in runs):
        print("FAILED: a portal's rate limit was exceeded", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
