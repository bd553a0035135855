"""A portal's whole history re-checked (``kopilka sync --all``) under the cloud's rate limit, in the
same run as fast-bitrix24's ``get_all`` reading the same list (issue 21, item 3).

Run ``python -m bench.backfill [--list-deals N] [--deals N] [--comments] [--json out]``.

Every client talks to an emulated portal (b24emu) over HTTP on 127.0.0.1 with the cloud's rate
limit on (leaky bucket: burst 50, 2 requests/s). The portals are filled in process, straight into
the emulator's store (no events): won deals of retail contacts (one contact per five deals), one
product row each.

1. The listing, on a portal of ``--list-deals`` (20 000) won deals: fast-bitrix24's
   ``get_all("crm.deal.list")`` (its first page tells the total, then offset pages 50 to a
   ``batch``) against Kopilka's ``listing.list_chained`` (keyset pages chained 50 to a ``batch``,
   never counting), the same select as the backfill's. Both must return the same IDs. The
   emulator filters and sorts every deal for every page (0.27 s an offset page, 0.73 s a keyset
   page at 100 000 deals), so its time, not the rate limit's, dominates here: 100 000 deals
   (``--list-deals 100000``) take half an hour; the requests counted are what this phase is for.
2. The backfill, on a portal of ``--deals`` (10 000) won deals: Kopilka connected and provisioned
   (``devstack.kopilka_on_emulator``, no worker), paced by its own limiter at the real settings
   (interval 0.5 s, burst 10), then ``bitrix24.service.backfill`` — what ``kopilka sync --all``
   runs — with its progress bar. Every deal must end with exactly one accrual.

The figures are the portal's: HTTP requests received (refused ones included), 503 answers, the
bucket's highest level. The bound the rate limit sets for ``R`` accepted requests is ``R / 2``
seconds in steady state (``(R − 50) / 2`` with the portal's whole burst): the backfill's share
of it is ``(R / 2) / T``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
from sqlalchemy import text

from b24emu import EmuServer, Portal, RateLimit
from bench.ledger import create_database, drop_database, machine_facts, pg_server
from kopilka.bitrix24.auth import WebhookAuth
from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.limiter import MemoryRateLimiter
from kopilka.bitrix24.listing import list_chained
from kopilka.bitrix24.service import backfill
from kopilka.cli.bitrix24 import backfill_bar
from kopilka.config import Settings
from kopilka.db.engine import create_engine
from kopilka.db.migrate import upgrade
from kopilka.process.devstack import example, kopilka_on_emulator
from kopilka.program.loader import load_program

RATE = RateLimit(burst=50, per_second=2.0, enabled=True)
SELECT = ["ID", "CLOSEDATE", "STAGE_SEMANTIC_ID"]  # what the backfill's listing asks for
GOAL_FRACTION = 0.8
PRICES = ("PRICE", "PRICE_EXCLUSIVE", "PRICE_NETTO", "PRICE_BRUTTO")


def fill(portal: Portal, deals: int) -> None:
    """``deals`` won deals of ``deals // 5`` retail contacts, one product row each: records
    made by the portal once, then copied into its store under new IDs (no events)."""

    def ok(method: str, params: dict[str, Any]) -> Any:
        answer = portal.call(method, params)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer}")
        return answer["result"]

    contact_id = int(ok("crm.contact.add", {"fields": {"NAME": "Покупатель", "TYPE_ID": "CLIENT"}}))
    deal_id = int(ok("crm.deal.add", {"fields": {"STAGE_ID": "NEW", "CONTACT_ID": contact_id}}))
    rows = [{"PRODUCT_NAME": "Товар", "PRICE": 1000, "QUANTITY": 1}]
    ok("crm.deal.productrows.set", {"id": deal_id, "rows": rows})
    ok("crm.deal.update", {"id": deal_id, "fields": {"STAGE_ID": "WON"}})
    contact, deal = portal.contacts[contact_id], portal.deals[deal_id]
    link, row = portal.deal_contacts[deal_id][0], portal.product_rows[deal_id][0]
    contacts = [contact_id] + [portal.next_id("contact") for _ in range(max(0, deals // 5 - 1))]
    for c in contacts[1:]:
        portal.contacts[c] = {**contact, "ID": str(c), "NAME": f"Покупатель {c}"}
    for i in range(deals):
        d = deal_id if i == 0 else portal.next_id("deal")
        c = contacts[i % len(contacts)]
        amount = 1000 + (i * 37 % 200) * 20
        portal.deals[d] = {**deal, "ID": str(d), "CONTACT_ID": str(c),
                           "OPPORTUNITY": f"{amount}.00"}  # fmt: skip
        portal.deal_contacts[d] = [{**link, "CONTACT_ID": c}]
        r = row["ID"] if i == 0 else portal.next_id("product_row")
        prices = dict.fromkeys(PRICES, float(amount))
        portal.product_rows[d] = [
            {**row, **prices, "PRICE_ACCOUNT": f"{amount}.00", "ID": r, "OWNER_ID": d}
        ]


def portal_figures(portal: Portal, seconds: float, items: int) -> dict[str, Any]:
    stats = portal.stats
    return {
        "seconds": round(seconds, 2),
        "requests": stats.requests_total,
        "rejected_503": stats.rejected_503,
        "max_bucket_level": round(stats.max_bucket_level, 1),
        "requests_per_deal": round(stats.requests_total / items, 5) if items else None,
    }


async def listing(n: int) -> dict[str, Any]:
    from fast_bitrix24 import BitrixAsync  # type: ignore[import-untyped]

    portal = Portal.seeded("empty", rate_limit=RATE)
    print(f"listing: filling a portal with {n} deals …", file=sys.stderr)
    fill(portal, n)
    with EmuServer(portal):
        webhook = portal.add_webhook(user_id=1, scopes=("crm", "user"))
        portal.stats.reset()
        t0 = time.monotonic()
        # no client timeout: the emulator scans every deal for every page (below)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as http:
            b24 = BitrixAsync(webhook, verbose=False, client=http)
            theirs = await b24.get_all("crm.deal.list", {"select": SELECT})
        fast = portal_figures(portal, time.monotonic() - t0, n)
        await asyncio.sleep(max(0.0, portal.stats.max_bucket_level) / 2)  # the bucket drains
        portal.stats.reset()
        limiter = MemoryRateLimiter(interval=0.5, burst=10)
        t0 = time.monotonic()
        async with Bitrix24Client(WebhookAuth(webhook), limiter=limiter) as client:
            ours = [d async for d in list_chained(client, "crm.deal.list", {"select": SELECT})]
        kopilka = portal_figures(portal, time.monotonic() - t0, n)
    same = sorted(int(d["ID"]) for d in theirs) == [int(d["ID"]) for d in ours]
    return {
        "deals": n,
        "fast_bitrix24_get_all": fast,
        "kopilka_list_chained": kopilka,
        "same_ids": same,
        "requests_ratio": round(kopilka["requests"] / fast["requests"], 3),
        "met": same and kopilka["requests"] <= fast["requests"],
    }


async def run_backfill(server_url: str, n: int, comments: bool) -> dict[str, Any]:
    portal = Portal.seeded("empty", rate_limit=RATE)
    print(f"backfill: filling a portal with {n} deals …", file=sys.stderr)
    fill(portal, n)
    name = f"kopilka_bench_backfill_{uuid.uuid4().hex[:8]}"
    url = create_database(server_url, name)
    try:
        await asyncio.to_thread(upgrade, url)
        engine = create_engine(url, pool_size=5)
        path, source = example("retail-wholesale.yaml")
        settings = Settings(b24_interval=0.5, b24_burst=10, b24_timeline_comments=comments)
        try:
            async with kopilka_on_emulator(
                engine, load_program(path), source, portal=portal, settings=settings, worker=False
            ) as stack:
                await asyncio.sleep(portal.stats.max_bucket_level / 2 + 1)  # provisioning's
                portal.stats.reset()
                t0 = time.monotonic()
                with backfill_bar() as bar:
                    task = bar.add_task("deals", total=None)
                    report = await backfill(
                        stack.services,
                        stack.connection,
                        progress=lambda done, total: bar.update(task, completed=done, total=total),
                    )
                seconds = time.monotonic() - t0
                figures = portal_figures(portal, seconds, n)
            async with engine.connect() as conn:
                accruals, distinct = (
                    await conn.execute(
                        text(
                            "SELECT count(*), count(DISTINCT reference) FROM ledger_transactions"
                            " WHERE kind = 'accrual'"
                        )
                    )
                ).one()
        finally:
            await engine.dispose()
    finally:
        with contextlib.suppress(psycopg.Error):
            drop_database(server_url, name)
    accepted = figures["requests"] - figures["rejected_503"]
    bound = accepted / RATE.per_second
    return {
        "deals": n,
        "timeline_comments": comments,
        **figures,
        "deals_checked": report.deals,
        "postings": report.posted,
        "writes": report.writes,
        "failed": len(report.failed),
        "accruals": int(accruals),
        "accrued_deals": int(distinct),
        "bound_seconds_steady": round(bound, 1),
        "bound_seconds_with_burst": round(max(0.0, accepted - RATE.burst) / RATE.per_second, 1),
        "of_the_bound": round(bound / seconds, 3),
        "deals_per_second": round(n / seconds, 1),
        "every_deal_once": int(accruals) == n == int(distinct),
        "met": bound / seconds >= GOAL_FRACTION,
    }


async def run(args: argparse.Namespace, server_url: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if args.list_deals:
        result["listing"] = await listing(args.list_deals)
    if args.deals:
        result["backfill"] = await run_backfill(server_url, args.deals, args.comments)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.backfill", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--list-deals", type=int, default=20_000, help="listed (20 000; 0: skip)")
    parser.add_argument("--deals", type=int, default=10_000, help="backfilled (10 000; 0: skip)")
    parser.add_argument("--comments", action="store_true", help="timeline comments on")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    with pg_server() as server:
        facts = machine_facts(server.url)
        result = asyncio.run(run(args, server.url))
    report = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "machine": facts, **result}
    print(json.dumps(report, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    broken = [
        what
        for what, bad in (
            ("the two listings differ", not result.get("listing", {}).get("same_ids", True)),
            (
                "a deal not accrued once",
                not result.get("backfill", {}).get("every_deal_once", True),
            ),
        )
        if bad
    ]
    if broken:
        print("FAILED: " + "; ".join(broken), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
