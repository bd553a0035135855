"""Prometheus ``/metrics``, read from the database at scrape time: the numbers are shared by all
processes (queue, limiter, sync state), so no process holds them in memory."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

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


async def render(engine: AsyncEngine) -> bytes:
    async with engine.connect() as conn:
        rows = {
            name: [tuple(r) for r in await conn.execute(text(sql))] for name, sql in QUERIES.items()
        }
    registry = CollectorRegistry()
    registry.register(_Snapshot(rows))
    return generate_latest(registry)
