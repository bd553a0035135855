"""Prometheus ``/metrics``, read from the database at scrape time: the numbers are shared by all
processes (queue, limiter, sync state, each portal's connection health), so no process holds
them in memory. The ledger's gauges (points outstanding, accrued, redeemed, expired per portal)
sum every account of a book: they are kept ``metrics_cache_seconds`` between reads.

Who may read it (issue 16): on the public port only with ``KOPILKA_METRICS_TOKEN`` as a bearer
token; on ``KOPILKA_METRICS_LISTEN``, an address of its own, without one (``metrics_app``).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

QUERIES = {
    "jobs": "SELECT queue_name, status::text, count(*) FROM procrastinate_jobs GROUP BY 1, 2",
    "lag": (
        "SELECT c.portal_id, p.member_id, count(d.deal_id), "
        "COALESCE(EXTRACT(EPOCH FROM now() - min(d.hinted_at)), 0) "
        "FROM b24_connections c JOIN portals p ON p.id = c.portal_id "
        "LEFT JOIN b24_dirty_deals d ON d.portal_id = c.portal_id GROUP BY 1, 2"
    ),
    "limiter": (
        "SELECT l.portal_id, p.member_id, l.granted, l.waited, l.wait_seconds, l.rejected "
        "FROM b24_rate_limits l JOIN portals p ON p.id = l.portal_id"
    ),
    "outbox": "SELECT portal_id, status, count(*) FROM b24_outbox GROUP BY 1, 2",
    "parked": (
        "SELECT portal_id, count(*) FROM b24_dirty_deals WHERE last_error IS NOT NULL GROUP BY 1"
    ),
    "health": (
        "SELECT c.portal_id, h.last_ok_at IS NOT NULL AND (h.last_error_at IS NULL "
        "OR h.last_ok_at > h.last_error_at), "
        "COALESCE(EXTRACT(EPOCH FROM h.last_ok_at), 0), "
        "COALESCE(EXTRACT(EPOCH FROM h.last_error_at), 0), COALESCE(h.last_error_class, '') "
        "FROM b24_connections c LEFT JOIN b24_portal_health h ON h.portal_id = c.portal_id "
        "WHERE c.status = 'active'"
    ),
}
#: The books per portal (kopecks): customers' balances as kept on their accounts; the system
#: accounts (issued, held, redeemed, expired) keep no running balance (they would be one hot
#: row), so their entries are summed: the reason these gauges are cached.
LEDGER = (
    "SELECT portal_id, 'customer', sum(balance) FROM accounts WHERE kind = 'customer' GROUP BY 1 "
    "UNION ALL SELECT a.portal_id, a.kind::text, sum(e.amount) FROM ledger_entries e "
    "JOIN accounts a ON a.id = e.account_id WHERE a.kind <> 'customer' GROUP BY 1, 2"
)
#: The gauge for each kind of account, and the sign that makes its balance a positive total.
BOOK_GAUGES = {
    "customer": ("kopilka_points_outstanding", "Points customers hold, spendable", 1),
    "held": ("kopilka_points_held", "Points held for orders not yet paid", 1),
    "issued": ("kopilka_points_accrued_total", "Points ever accrued, less reversals", -1),
    "redeemed": ("kopilka_points_redeemed_total", "Points ever spent", 1),
    "expired": ("kopilka_points_expired_total", "Points ever expired", 1),
}


class _Snapshot(Collector):
    def __init__(self, rows: dict[str, list[tuple[object, ...]]]) -> None:
        self.rows = rows

    def collect(self):  # type: ignore[no-untyped-def]
        jobs = GaugeMetricFamily(
            "kopilka_jobs", "Jobs by queue and status", labels=["queue", "status"]
        )
        for queue, status, n in self.rows["jobs"]:
            jobs.add_metric([str(queue), str(status)], float(n))  # type: ignore[arg-type]
        yield jobs
        dirty = GaugeMetricFamily(
            "kopilka_sync_dirty_deals", "Deals waiting for sync", labels=["portal"]
        )
        lag = GaugeMetricFamily(
            "kopilka_sync_lag_seconds", "Age of the oldest unsynced hint", labels=["portal"]
        )
        for portal_id, _member, n, age in self.rows["lag"]:
            dirty.add_metric([str(portal_id)], float(n))  # type: ignore[arg-type]
            lag.add_metric([str(portal_id)], float(age))  # type: ignore[arg-type]
        yield dirty
        yield lag
        parked = GaugeMetricFamily(
            "kopilka_sync_parked_deals",
            "Deals that failed to sync (not shown by the portal, refused by the ledger), "
            "waiting for their next try",
            labels=["portal"],
        )
        for portal_id, n in self.rows["parked"]:
            parked.add_metric([str(portal_id)], float(n))  # type: ignore[arg-type]
        yield parked
        names = ("granted", "waited", "wait_seconds", "rejected")
        families = {
            n: CounterMetricFamily(
                f"kopilka_b24_limiter_{n}", f"Rate limiter: {n}", labels=["portal"]
            )
            for n in names
        }
        for portal_id, _member, *values in self.rows["limiter"]:
            for n, v in zip(names, values, strict=True):
                families[n].add_metric([str(portal_id)], float(v))  # type: ignore[arg-type]
        yield from families.values()
        out = GaugeMetricFamily(
            "kopilka_b24_outbox", "Portal writes by status", labels=["portal", "status"]
        )
        for portal_id, status, n in self.rows["outbox"]:
            out.add_metric([str(portal_id), str(status)], float(n))  # type: ignore[arg-type]
        yield out
        yield from _health(self.rows["health"])
        yield from _books(self.rows["ledger"])


def _health(rows: list[tuple[object, ...]]) -> Iterator[GaugeMetricFamily]:
    up = GaugeMetricFamily(
        "kopilka_b24_portal_healthy",
        "1 when the portal's last Bitrix24 call succeeded (after its last failure)",
        labels=["portal"],
    )
    ok = GaugeMetricFamily(
        "kopilka_b24_last_ok_timestamp_seconds", "Last successful call", labels=["portal"]
    )
    failed = GaugeMetricFamily(
        "kopilka_b24_last_error_timestamp_seconds",
        "Last failed call, with its error class",
        labels=["portal", "error"],
    )
    for portal_id, healthy, ok_at, error_at, error in rows:
        up.add_metric([str(portal_id)], 1.0 if healthy else 0.0)
        ok.add_metric([str(portal_id)], float(ok_at))  # type: ignore[arg-type]
        if error:
            failed.add_metric([str(portal_id), str(error)], float(error_at))  # type: ignore[arg-type]
    yield from (up, ok, failed)


def _books(rows: list[tuple[object, ...]]) -> Iterator[GaugeMetricFamily]:
    """Every gauge for every portal with a book (0 where nothing was posted yet)."""
    kopecks = {(str(portal), str(kind)): int(n) for portal, kind, n in rows}  # type: ignore[call-overload]
    portals = sorted({portal for portal, _kind in kopecks}, key=int)
    for kind, (name, help_, sign) in BOOK_GAUGES.items():
        family = GaugeMetricFamily(name, help_, labels=["portal"])
        for portal in portals:
            family.add_metric([portal], sign * kopecks.get((portal, kind), 0) / 100)
        yield family


@dataclass
class LedgerCache:
    """The ledger's rows of the last read, and when (monotonic)."""

    seconds: float
    rows: list[tuple[object, ...]] = field(default_factory=list)
    read_at: float = float("-inf")

    async def get(self, conn: AsyncConnection) -> list[tuple[object, ...]]:
        if time.monotonic() - self.read_at >= self.seconds:
            self.rows = [tuple(r) for r in await conn.execute(text(LEDGER))]
            self.read_at = time.monotonic()
        return self.rows


async def render(engine: AsyncEngine, ledger: LedgerCache | None = None) -> bytes:
    async with engine.connect() as conn:
        rows = {
            name: [tuple(r) for r in await conn.execute(text(sql))] for name, sql in QUERIES.items()
        }
        rows["ledger"] = await (ledger or LedgerCache(0)).get(conn)
    registry = CollectorRegistry()
    registry.register(_Snapshot(rows))
    return generate_latest(registry)


def allowed(authorization: str | None, token: SecretStr | None) -> bool:
    """The public port's `/metrics`: only with the configured bearer token."""
    if token is None or not authorization:
        return False
    scheme, _, given = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.get_secret_value().encode()
    )


def metrics_app(engine: AsyncEngine, ledger: LedgerCache) -> Starlette:
    """`/metrics` alone, for ``KOPILKA_METRICS_LISTEN`` (an address only operators reach)."""

    async def metrics(_request: Request) -> Response:
        return Response(await render(engine, ledger), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[Route("/metrics", metrics)])
