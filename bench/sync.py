"""Deal sync under the portal's rate limit: 1 000 deals won at once, against two baselines.

Run ``python -m bench.sync [--deals N] [--naive-deals N] [--fast-deals N] [--json out.json]``.

Every client talks to an emulated portal (b24emu) over HTTP on 127.0.0.1 with the cloud's rate
limit on (leaky bucket: burst 50, 2 requests/s). Each run has a portal of its own, seeded in
process (``portal.call``, not rate limited) with one ``CLIENT`` contact per deal and one product
row per deal, stage NEW; then every deal is moved to WON in a tight loop. The job of every client
is the same: for each won deal, read the deal, its product rows and its contacts, and write 5 %
of the deal's sum to the primary contact's ``UF_CRM_KOP_BALANCE``.

1. naive: one deal at a time, one call per item (``crm.deal.get``, ``crm.deal.productrows.get``,
   ``crm.deal.contact.items.get``, ``crm.contact.update``) through plain httpx; no pacing, a 503
   is retried after a 1 s sleep;
2. fast-bitrix24 (``BitrixAsync``): ``get_by_ID`` for the three reads and ``call`` with a list of
   updates, auto-batched, with its own pacing;
3. Kopilka, four times: timeline comments on (the default) and off, each as ``kopilka serve``
   (one process) and as ``kopilka web`` + ``kopilka worker`` (two), started by this script in
   processes of their own, as in production, paced by Kopilka's own limiter at the real
   settings (interval 0.5 s, burst 10); the portal's events reach Kopilka's web app over HTTP.
   Timed from the first WON until ``stack.settle()`` returns: every event delivered, every
   deal synced, every write sent.

The primary figures are the portal's own: HTTP requests received (503-refused ones included),
503 answers, commands run (batch sub-commands counted one by one). The bound set by the rate
limit, for a client making ``r`` accepted requests per deal: at most ``2/r`` deals/s in steady
state (the verdict's bound); over a run of ``T`` s that starts with an empty bucket, at most
``(50 + 2T)/r`` deals (also shown).
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
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import select

from b24emu import EmuServer, Portal, RateLimit
from bench.ledger import create_database, drop_database, machine_facts, pg_server
from kopilka.config import Settings
from kopilka.db.engine import create_engine
from kopilka.db.migrate import upgrade
from kopilka.db.tables import b24_sync_runs, b24_sync_state
from kopilka.process.devstack import Stack, example, free_socket, kopilka_on_emulator
from kopilka.program.loader import load_program

RATE = RateLimit(burst=50, per_second=2.0, enabled=True)
BALANCE = "UF_CRM_KOP_BALANCE"
PERCENT = 5  # the example program's retail rule; every seeded contact is retail (CLIENT)
SCOPES = ("crm", "user")
GOAL_REQUESTS_PER_DEAL = 0.03
GOAL_FRACTION = 0.8


# --- what the portal saw -----------------------------------------------------------------------


class Meter:
    """Wraps the portal's HTTP entry to count accepted and refused requests by method, and the
    commands run (each sub-command of an accepted ``batch``), without touching the emulator."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.accepted: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()  # by status (503, 500, ...)
        self.commands: Counter[str] = Counter()
        self.shapes: Counter[str] = Counter()  # accepted requests by what they carried
        inner = portal.handle_http

        def handle_http(
            method: str,
            webhook: tuple[str, str] | None,
            params: dict[str, Any],
            bearer: str | None,
            source: str,
        ) -> tuple[int, dict[str, Any]]:
            name = method.strip("/").lower().removesuffix(".json")
            cmd = params.get("cmd") if name == "batch" else None
            status, body = inner(method, webhook, params, bearer, source)
            if status == 200:
                self.accepted[name] += 1
                if name == "batch":
                    items = cmd.values() if isinstance(cmd, dict) else (cmd or [])
                    inside = [str(text).partition("?")[0].lower() for text in items]
                    self.commands.update(inside)
                    self.shapes[f"batch of {'+'.join(sorted(set(inside)))}"] += 1
                else:
                    self.commands[name] += 1
                    self.shapes[name] += 1
            else:
                self.refused[f"{status} {name}"] += 1
            return status, body

        portal.handle_http = handle_http  # type: ignore[method-assign]

    def reset(self) -> None:
        self.portal.stats.reset()
        self.accepted.clear()
        self.refused.clear()
        self.commands.clear()
        self.shapes.clear()


@dataclass
class Result:
    name: str
    deals: int
    seconds: float
    requests: int  # every HTTP request the portal received, refused ones included
    rejected_503: int
    accepted: int
    commands: int
    max_bucket_level: float
    accepted_by_method: dict[str, int]
    commands_by_method: dict[str, int]
    requests_by_shape: dict[str, int]
    refused: dict[str, int]
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, name: str, deals: int, seconds: float, meter: Meter, **kw: Any) -> Result:
        stats = meter.portal.stats
        return cls(
            name=name,
            deals=deals,
            seconds=seconds,
            requests=stats.requests_total,
            rejected_503=stats.rejected_503,
            accepted=sum(meter.accepted.values()),
            commands=sum(meter.commands.values()),
            max_bucket_level=round(stats.max_bucket_level, 1),
            accepted_by_method=dict(meter.accepted.most_common()),
            commands_by_method=dict(meter.commands.most_common()),
            requests_by_shape=dict(meter.shapes.most_common()),
            refused=dict(meter.refused.most_common()),
            **kw,
        )

    @property
    def r(self) -> float:
        """Accepted requests per deal: what fills the portal's bucket."""
        return self.accepted / self.deals

    @property
    def deals_per_second(self) -> float:
        return self.deals / self.seconds

    @property
    def steady_bound(self) -> float:
        """Deals/s the limit allows at this ``r`` in steady state: 2/r."""
        return RATE.per_second / self.r

    @property
    def run_bound(self) -> float:
        """Deals/s the limit allows at this ``r`` over a run of this length from an empty
        bucket: (50 + 2T) / r deals in T seconds."""
        return (RATE.burst + RATE.per_second * self.seconds) / self.r / self.seconds

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "deals": self.deals,
            "seconds": round(self.seconds, 2),
            "requests": self.requests,
            "accepted": self.accepted,
            "rejected_503": self.rejected_503,
            "commands": self.commands,
            "requests_per_deal": round(self.requests / self.deals, 4),
            "accepted_per_deal": round(self.r, 4),
            "commands_per_deal": round(self.commands / self.deals, 3),
            "deals_per_second": round(self.deals_per_second, 3),
            "steady_bound": round(self.steady_bound, 3),
            "fraction_steady": round(self.deals_per_second / self.steady_bound, 3),
            "run_bound": round(self.run_bound, 3),
            "fraction_run": round(self.deals_per_second / self.run_bound, 3),
            "max_bucket_level": self.max_bucket_level,
            "accepted_by_method": self.accepted_by_method,
            "commands_by_method": self.commands_by_method,
            "requests_by_shape": self.requests_by_shape,
            "refused": self.refused,
            "notes": self.notes,
            **self.extra,
        }


# --- seeding -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deal:
    id: int
    contact: int
    amount: int  # roubles; a multiple of 20, so 5 % is whole

    @property
    def points(self) -> Decimal:
        return Decimal(self.amount) * PERCENT / 100


def _call(portal: Portal, method: str, params: dict[str, Any]) -> Any:
    answer = portal.call(method, params)
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']} {answer.get('error_description')}")
    return answer["result"]


def seed(portal: Portal, n: int) -> list[Deal]:
    """``n`` retail contacts, each with one deal at stage NEW and one product row."""
    deals = []
    for i in range(n):
        amount = 1000 + (i * 37 % 200) * 20
        contact = int(
            _call(
                portal,
                "crm.contact.add",
                {"fields": {"NAME": f"Покупатель {i}", "TYPE_ID": "CLIENT"}},
            )
        )
        deal = int(
            _call(
                portal,
                "crm.deal.add",
                {
                    "fields": {
                        "TITLE": f"Заказ {i}",
                        "CATEGORY_ID": 0,
                        "STAGE_ID": "NEW",
                        "CONTACT_ID": contact,
                    }
                },
            )
        )
        _call(
            portal,
            "crm.deal.productrows.set",
            {"id": deal, "rows": [{"PRODUCT_NAME": "Товар", "PRICE": amount, "QUANTITY": 1}]},
        )
        deals.append(Deal(deal, contact, amount))
    return deals


def win_all(portal: Portal, deals: list[Deal]) -> None:
    for deal in deals:
        _call(portal, "crm.deal.update", {"id": deal.id, "fields": {"STAGE_ID": "WON"}})


def add_balance_field(portal: Portal) -> None:
    """What Kopilka's provisioning creates; the baselines need it to exist too."""
    _call(
        portal,
        "crm.contact.userfield.add",
        {"fields": {"FIELD_NAME": "KOP_BALANCE", "USER_TYPE_ID": "double"}},
    )


def verify(portal: Portal, deals: list[Deal], who: str) -> None:
    """Every contact's balance field holds 5 % of its deal; fail loudly otherwise."""
    wrong = []
    for deal in deals:
        value = _call(portal, "crm.contact.get", {"id": deal.contact}).get(BALANCE)
        if value in (None, "") or Decimal(str(value)) != deal.points:
            wrong.append((deal.id, deal.contact, deal.points, value))
    if wrong:
        raise AssertionError(
            f"{who}: {len(wrong)} of {len(deals)} contacts wrong, e.g. {wrong[:5]}"
        )


def primary_contact(links: list[dict[str, Any]]) -> int:
    for link in links:
        if str(link.get("IS_PRIMARY")) == "Y":
            return int(link["CONTACT_ID"])
    return int(links[0]["CONTACT_ID"])


def rows_total(rows: list[dict[str, Any]]) -> Decimal:
    return sum((Decimal(str(r["PRICE"])) * Decimal(str(r["QUANTITY"])) for r in rows), Decimal(0))


@contextlib.contextmanager
def served_portal(n: int) -> Iterator[tuple[Portal, EmuServer, Meter, list[Deal], str]]:
    """A rate-limited portal with ``n`` won deals, served on loopback, for a baseline."""
    portal = Portal.seeded("empty", rate_limit=RATE)
    add_balance_field(portal)
    deals = seed(portal, n)
    win_all(portal, deals)
    with EmuServer(portal) as server:
        webhook = portal.add_webhook(user_id=1, scopes=SCOPES)  # served: a full URL
        meter = Meter(portal)
        meter.reset()
        yield portal, server, meter, deals, webhook


# --- baseline 1: naive -------------------------------------------------------------------------


async def run_naive(n: int) -> Result:
    with served_portal(n) as (portal, _server, meter, deals, webhook):
        sleeps = 0

        async def call(http: httpx.AsyncClient, method: str, params: dict[str, Any]) -> Any:
            nonlocal sleeps
            while True:
                answer = await http.post(f"{webhook}{method}.json", json=params)
                if answer.status_code == 503:
                    sleeps += 1
                    await asyncio.sleep(1.0)
                    continue
                answer.raise_for_status()
                return answer.json()["result"]

        started = time.monotonic()
        async with httpx.AsyncClient(timeout=30.0, trust_env=False) as http:
            for deal in deals:
                await call(http, "crm.deal.get", {"id": deal.id})
                rows = await call(http, "crm.deal.productrows.get", {"id": deal.id})
                links = await call(http, "crm.deal.contact.items.get", {"id": deal.id})
                value = rows_total(rows) * PERCENT / 100
                await call(
                    http,
                    "crm.contact.update",
                    {"id": primary_contact(links), "fields": {BALANCE: str(value)}},
                )
        seconds = time.monotonic() - started
        verify(portal, deals, "naive")
        return Result.of("naive (one call per item)", n, seconds, meter, extra={"sleeps": sleeps})


# --- baseline 2: fast-bitrix24 -----------------------------------------------------------------


async def run_fast_bitrix24(n: int) -> Result:
    from fast_bitrix24 import BitrixAsync  # type: ignore[import-untyped]

    with served_portal(n) as (portal, _server, meter, deals, webhook):
        ids = [d.id for d in deals]
        started = time.monotonic()
        # The webhook is plain http on 127.0.0.1: the library accepts it as it is (its URL
        # check wants a scheme, a host and a path; `ssl` only matters for https).
        b24 = BitrixAsync(webhook, verbose=False)
        await b24.get_by_ID("crm.deal.get", ids)
        rows = await b24.get_by_ID("crm.deal.productrows.get", ids)
        links = await b24.get_by_ID("crm.deal.contact.items.get", ids)
        updates = [  # results come keyed by the batch command labels: the IDs, as text
            {
                "id": primary_contact(links[str(d.id)]),
                "fields": {BALANCE: str(rows_total(rows[str(d.id)]) * PERCENT / 100)},
            }
            for d in deals
        ]
        await b24.call("crm.contact.update", updates)
        seconds = time.monotonic() - started
        verify(portal, deals, "fast-bitrix24")
        return Result.of("fast-bitrix24 (auto-batched)", n, seconds, meter)


# --- Kopilka -----------------------------------------------------------------------------------


async def _sync_runs_since(stack: Stack, since: datetime) -> list[dict[str, Any]]:
    """Kopilka's drains of the portal in the window: start (s after ``since``), length, deals."""
    t = b24_sync_runs.c
    async with stack.engine.connect() as conn:
        rows = await conn.execute(
            select(t.started_at, t.finished_at, t.deals)
            .where(t.started_at >= since)
            .order_by(t.started_at)
        )
        return [
            {
                "at": round((r.started_at - since).total_seconds(), 2),
                "seconds": round((r.finished_at - r.started_at).total_seconds(), 2)
                if r.finished_at
                else None,
                "deals": r.deals,
            }
            for r in rows
        ]


async def _first_sweep(stack: Stack, timeout: float) -> None:
    """The worker's periodic sweep runs once at start and finds the seeded (NEW) deals."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with stack.engine.connect() as conn:
            swept = await conn.scalar(select(b24_sync_state.c.last_sweep_at))
        if swept is not None:
            await stack.settle(timeout=deadline - time.monotonic())
            return
        await asyncio.sleep(0.2)
    raise TimeoutError("the worker's first sweep did not run")


@contextlib.contextmanager
def kopilka_processes(
    database_url: str, settings: Settings, *, apart: bool
) -> Iterator[tuple[str, list[int]]]:
    """Kopilka in processes of its own, as in production (the portal is not on Kopilka's CPU):
    ``kopilka serve`` (web app, worker and scheduler in one process: the default), or with
    ``apart`` ``kopilka web`` and ``kopilka worker`` side by side."""
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    env = {
        **os.environ,
        "KOPILKA_DATABASE_URL": database_url,
        "KOPILKA_B24_INTERVAL": str(settings.b24_interval),
        "KOPILKA_B24_BURST": str(settings.b24_burst),
        "KOPILKA_B24_TIMELINE_COMMENTS": str(settings.b24_timeline_comments).lower(),
        "KOPILKA_LOG_LEVEL": "WARNING",
    }
    cli = [sys.executable, "-m", "kopilka"]
    commands = (
        [[*cli, "web", "--port", str(port)], [*cli, "worker"]]
        if apart
        else [[*cli, "serve", "--port", str(port)]]
    )
    procs = [subprocess.Popen(c, env=env, stdout=subprocess.DEVNULL) for c in commands]
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("Kopilka's web app did not start")
        yield url, [p.pid for p in procs]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)


def _cpu(pids: list[int]) -> list[float]:
    return [cpu_seconds(p) for p in pids]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_kopilka(server_url: str, n: int, *, comments: bool, apart: bool = False) -> Result:
    portal = Portal.seeded("empty", rate_limit=RATE)
    deals = seed(portal, n)  # before Kopilka connects: no events for these
    meter = Meter(portal)
    name = f"kopilka_sync_{uuid.uuid4().hex[:8]}"
    url = create_database(server_url, name)
    try:
        await asyncio.to_thread(upgrade, url)
        engine = create_engine(url, pool_size=5)
        path, source = example("retail-wholesale.yaml")
        settings = Settings(b24_interval=0.5, b24_burst=10, b24_timeline_comments=comments)
        try:
            with kopilka_processes(url, settings, apart=apart) as (web_url, pids):
                async with kopilka_on_emulator(
                    engine,
                    load_program(path),
                    source,
                    portal=portal,
                    settings=settings,
                    elsewhere=web_url,
                ) as stack:
                    result = await _measure_kopilka(stack, meter, deals, settings, pids)
                    result.name = (
                        f"Kopilka {'web + worker' if apart else 'serve'}, "
                        f"comments {'on' if comments else 'off'}"
                    )
                    return result
        finally:
            await engine.dispose()
    finally:
        with contextlib.suppress(psycopg.Error):
            drop_database(server_url, name)


async def _measure_kopilka(
    stack: Stack, meter: Meter, deals: list[Deal], settings: Settings, pids: list[int]
) -> Result:
    """Untimed: provisioning (done by the stack) and the first sweep, which finds the seeded
    deals at NEW and syncs them. Timed: all deals to WON, until everything is written."""
    portal = stack.portal
    setup_started = time.monotonic()
    await _first_sweep(stack, timeout=300)
    setup = {
        "setup_seconds": round(time.monotonic() - setup_started, 1),
        "setup_requests": portal.stats.requests_total,
        "setup_503": portal.stats.rejected_503,
        "setup_requests_by_shape": dict(meter.shapes.most_common()),
    }
    # Start from an idle portal: an empty bucket (as the baselines have), and Kopilka's own
    # limiter refilled to its burst.
    portal.rate_limit = RATE  # the setter empties the buckets
    await asyncio.sleep(settings.b24_burst * settings.b24_interval)
    client = stack.services.client_for(stack.connection)
    limiter0 = await client.limiter.stats()
    meter.reset()

    since = datetime.now(UTC)
    started, cpu0, kopilka_cpu0 = time.monotonic(), time.process_time(), _cpu(pids)
    await asyncio.to_thread(win_all, portal, deals)
    won = time.monotonic() - started
    await portal.flush_events(timeout=300)
    delivered = time.monotonic() - started
    await stack.settle(timeout=600)
    seconds = time.monotonic() - started
    cpu = time.process_time() - cpu0
    kopilka_cpu = [b - a for a, b in zip(kopilka_cpu0, _cpu(pids), strict=True)]

    result = Result.of("Kopilka", len(deals), seconds, meter)
    limiter = await client.limiter.stats()
    result.extra = {
        **setup,
        "won_loop_seconds": round(won, 2),
        "events_delivered_seconds": round(delivered, 2),
        "events_sent": portal.stats.events_sent,
        "events_failed": portal.stats.events_failed,
        # `kopilka serve` in its process; the emulator (and this script) in this one
        "kopilka_cpu_share": [round(c / seconds, 2) for c in kopilka_cpu],
        "emulator_cpu_share": round(cpu / seconds, 2),
        "sync_runs": await _sync_runs_since(stack, since),
        "limiter_granted": limiter.granted - limiter0.granted,
        "limiter_waited": limiter.waited - limiter0.waited,
        "limiter_wait_seconds": round(limiter.wait_seconds - limiter0.wait_seconds, 1),
    }
    sweeps = result.accepted_by_method.get("crm.deal.list", 0)
    if sweeps:
        result.notes.append(
            f"{sweeps} of the requests are crm.deal.list pages of the periodic sweep "
            "(a minute boundary fell inside the run)"
        )
    verify(portal, deals, result.name)
    for deal in deals[:: max(1, len(deals) // 5)]:  # the ledger agrees with the portal
        held = (await stack.balance(deal.contact)).available
        if Decimal(held) / 100 != deal.points:
            raise AssertionError(f"ledger balance of contact {deal.contact}: {held}")
        said = [c for c in stack.comments(deal.id) if c.startswith("Копилка")]
        if len(said) != (1 if settings.b24_timeline_comments else 0):
            raise AssertionError(f"deal {deal.id}: timeline comments {said}")
    return result


# --- the report --------------------------------------------------------------------------------

COLUMNS: list[tuple[str, int, Callable[[dict[str, Any]], str]]] = [
    ("client", 32, lambda s: s["name"]),
    ("deals", 6, lambda s: f"{s['deals']}"),
    ("T s", 7, lambda s: f"{s['seconds']:.1f}"),
    ("HTTP", 6, lambda s: f"{s['requests']}"),
    ("req/deal", 9, lambda s: f"{s['requests_per_deal']:.3f}"),
    ("cmd/deal", 9, lambda s: f"{s['commands_per_deal']:.2f}"),
    ("503", 5, lambda s: f"{s['rejected_503']}"),
    ("deals/s", 8, lambda s: f"{s['deals_per_second']:.2f}"),
    ("2/r", 8, lambda s: f"{s['steady_bound']:.2f}"),
    ("of 2/r", 7, lambda s: f"{s['fraction_steady']:.2f}"),
    ("(50+2T)/rT", 11, lambda s: f"{s['run_bound']:.2f}"),
    ("of it", 6, lambda s: f"{s['fraction_run']:.2f}"),
]
SHOWN = {
    "name", "deals", "seconds", "requests", "accepted", "rejected_503", "commands",
    "requests_per_deal", "accepted_per_deal", "commands_per_deal", "deals_per_second",
    "steady_bound", "fraction_steady", "run_bound", "fraction_run", "accepted_by_method",
    "commands_by_method", "requests_by_shape", "refused", "notes", "sync_runs",
}  # fmt: skip


def _row(cells: list[str]) -> str:
    return "".join(
        f"{c:<{w}}" if i == 0 else f"{c:>{w}}"
        for i, (c, (_, w, _)) in enumerate(zip(cells, COLUMNS, strict=True))
    )


def print_report(report: dict[str, Any]) -> None:
    facts = report["machine"]
    print()
    print("Kopilka deal sync benchmark (bench/sync)")
    print(
        f"  {report['when']}; {facts.get('cpu_count')} cores ({facts.get('cpu', '?')}), "
        f"Python {facts.get('python')}, PostgreSQL {facts.get('postgresql')}"
    )
    print(
        f"  portal rate limit: burst {RATE.burst}, {RATE.per_second:g} requests/s per portal; "
        "Kopilka's own pacing: interval 0.5 s, burst 10"
    )
    print()
    header = _row([title for title, _, _ in COLUMNS])
    print(header)
    print("-" * len(header))
    for s in report["results"]:
        print(_row([get(s) for _, _, get in COLUMNS]))
    print()
    print("  HTTP = requests the portal received (503-refused included); r = accepted requests per")
    print("  deal; 2/r = deals/s the limit allows at that r in steady state; (50+2T)/rT = the same")
    print("  over a run of T s from an empty bucket; 'of' = measured deals/s as a fraction of it.")
    for s in report["results"]:
        print(f"\n  {s['name']}:")
        print(f"    requests: {s['requests_by_shape']}")
        print(f"    commands: {s['commands_by_method']}")
        if s["refused"]:
            print(f"    refused: {s['refused']}")
        print(f"    {', '.join(f'{k} {v}' for k, v in s.items() if k not in SHOWN)}")
        if runs := s.get("sync_runs"):
            print(
                f"    Kopilka sync runs: {len(runs)}, deals per run "
                f"{[r['deals'] for r in runs]}, started at s {[r['at'] for r in runs]}"
            )
        for note in s["notes"]:
            print(f"    note: {note}")
    print()
    for failed in report["failed"]:
        print(f"  {failed['name']} ({failed['deals']} deals) gave up: {failed['error']}")
    for line in report["ratios"] + report["verdict"]:
        print(f"  {line}")


def ratios(results: list[dict[str, Any]]) -> list[str]:
    bases = [s for s in results if not s["name"].startswith("Kopilka")]
    lines = []
    for k in (s for s in results if s["name"].startswith("Kopilka")):
        for base in bases:
            lines.append(
                f"{k['name']} / {base['name'].split(' ')[0]}: requests per deal "
                f"{k['requests_per_deal'] / base['requests_per_deal']:.3f}, "
                f"deals/s {k['deals_per_second'] / base['deals_per_second']:.2f}"
            )
    return lines


def verdict(results: list[dict[str, Any]]) -> list[str]:
    def mark(ok: bool) -> str:
        return "met" if ok else "NOT met"

    lines = []
    for s in results:
        if not s["name"].startswith("Kopilka"):
            continue
        req, rejected = s["requests_per_deal"], s["rejected_503"]
        lines.append(
            f"{s['name']}: {req:.3f} requests/deal, goal <= {GOAL_REQUESTS_PER_DEAL}: "
            f"{mark(req <= GOAL_REQUESTS_PER_DEAL)}; "
            f"{rejected} 503s, goal 0: {mark(not rejected)}; "
            f"{s['fraction_steady']:.2f} of the bound 2/r, goal >= {GOAL_FRACTION}: "
            f"{mark(s['fraction_steady'] >= GOAL_FRACTION)} "
            f"({s['fraction_run']:.2f} of the run-length form (50+2T)/rT = accepted requests / "
            f"(50+2T), out of reach below {GOAL_FRACTION * RATE.burst:.0f} requests)"
        )
    return lines


async def run_all(
    args: argparse.Namespace, server_url: str
) -> tuple[list[Result], list[dict[str, str]]]:
    """Every client's run; a baseline that gives up (fast-bitrix24 does, when the 503s exhaust
    its retries) is reported as such and the others still run."""
    results: list[Result] = []
    failures: list[dict[str, str]] = []
    baselines = [
        ("naive, one call per item", run_naive, args.naive_deals),
        ("fast-bitrix24, auto-batched", run_fast_bitrix24, args.fast_deals),
    ]
    for name, run, deals in baselines:
        if not deals:
            continue
        print(f"{name}, {deals} deals …", file=sys.stderr)
        try:
            results.append(await run(deals))
        except Exception as exc:  # a third party giving up is a result too
            failures.append({"name": name, "deals": str(deals), "error": repr(exc)[:300]})
    for apart in (False, True) if args.apart else (False,):
        for comments in (True, False):
            how = "web + worker" if apart else "serve"
            print(
                f"Kopilka ({how}), timeline comments {'on' if comments else 'off'}, "
                f"{args.deals} deals …",
                file=sys.stderr,
            )
            results.append(
                await run_kopilka(server_url, args.deals, comments=comments, apart=apart)
            )
    return results, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sync", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--deals", type=int, default=1000, help="deals per Kopilka run (1000)")
    parser.add_argument(
        "--naive-deals", type=int, default=60, help="deals for the naive baseline (60; 0: skip)"
    )
    parser.add_argument(
        "--fast-deals", type=int, default=1000, help="deals for fast-bitrix24 (1000; 0: skip)"
    )
    parser.add_argument(
        "--no-apart",
        dest="apart",
        action="store_false",
        help="skip the runs with Kopilka's web app and worker in two processes",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    with pg_server() as server:
        facts = machine_facts(server.url)
        results, failures = asyncio.run(run_all(args, server.url))
    summaries = [r.summary() for r in results]
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": facts,
        "rate_limit": {"burst": RATE.burst, "per_second": RATE.per_second},
        "kopilka_pacing": {"interval": 0.5, "burst": 10},
        "results": summaries,
        "failed": failures,
        "ratios": ratios(summaries),
        "verdict": verdict(summaries),
    }
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
