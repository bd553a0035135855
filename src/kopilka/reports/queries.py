"""The SQL aggregates the reports are read from. Nothing here writes.

Every figure comes from ``ledger_entries`` (signed legs) joined to their transaction (its kind
and ``effective_at``, the moment it counts from) and account (its kind); ``docs/reports.md``
says which legs make which figure. One scan of the program's entries up to the range's end gives
the opening liability and every day's or month's flows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.reports.schemas import Flow, Range

#: One scan of the entries whose transaction counts from ``since`` on, grouped two ways at once:
#: by day or month (the flows; NULL for what came after the range) and by customer (what they
#: earned, whether they moved points themselves, whether they spent) — the page's biggest read.
RANGE = text("""
SELECT GROUPING(m.bucket) = 0 AS by_period, m.bucket, m.customer_id,
       COALESCE(-sum(m.amount) FILTER (WHERE m.ak = 'issued' AND m.tk = 'accrual'), 0)
           AS accrued,
       COALESCE(sum(m.amount) FILTER (WHERE m.ak = 'issued' AND m.tk = 'reversal'), 0)
           AS reversed,
       COALESCE(sum(m.amount) FILTER (WHERE m.ak = 'redeemed'), 0) AS redeemed,
       COALESCE(sum(m.amount) FILTER (WHERE m.ak = 'expired'), 0) AS expired,
       COALESCE(sum(m.amount) FILTER (WHERE m.ak IN ('customer', 'held')), 0) AS outstanding,
       COALESCE(sum(m.amount) FILTER (WHERE m.bucket IS NOT NULL AND m.ak = 'customer'
                                        AND m.tk = 'accrual'), 0) AS earned,
       count(*) FILTER (WHERE m.bucket IS NOT NULL AND m.tk <> 'expiry') > 0 AS active,
       count(*) FILTER (WHERE m.bucket IS NOT NULL AND m.tk IN ('redemption', 'capture')) > 0
           AS redeeming
  FROM (SELECT CASE WHEN t.effective_at >= :until THEN NULL ELSE
                    CAST(date_trunc(:unit, t.effective_at AT TIME ZONE :tz) AS date) END
                   AS bucket,
               t.kind AS tk, a.kind AS ak, a.customer_id, e.amount
          FROM ledger_transactions t
          JOIN ledger_entries e ON e.transaction_id = t.id
          JOIN accounts a ON a.id = e.account_id
         WHERE t.program_id = :program AND t.effective_at >= :since) AS m
 GROUP BY GROUPING SETS ((m.bucket), (m.customer_id))
""")
OWED_NOW = text("""
SELECT COALESCE(sum(balance), 0) FROM accounts
 WHERE program_id = :program AND kind IN ('customer', 'held')
""")


@dataclass(frozen=True, slots=True)
class Movements:
    opening: int  # customer + held balances before the range
    flows: dict[date, Flow]
    changes: dict[date, int]  # the change of customer + held balances, per bucket
    earned: dict[int, int]  # customer -> points accrued in the range
    active: int  # customers with a movement of their own in the range (not an expiry)
    redeeming: int  # customers who spent in the range (a redemption or a captured hold)


async def movements(conn: AsyncConnection, program_id: int, span: Range) -> Movements:
    """The range's flows and customers from one scan of what counts from its start on; the
    opening liability is what customers hold now (the balance caches, which the invariants
    prove equal to the entries) less every change since the range began."""
    params = {
        "program": program_id,
        "since": span.since,
        "until": span.until,
        "unit": span.unit,
        "tz": span.tz.key,
    }
    owed_now = int(await conn.scalar(OWED_NOW, {"program": program_id}) or 0)
    flows, changes, earned = {}, {}, {}
    active = redeeming = 0
    since_start = 0
    for r in await conn.execute(RANGE, params):
        if r.by_period:
            since_start += int(r.outstanding)
            if r.bucket is not None:
                flows[r.bucket] = Flow(
                    r.bucket, int(r.accrued), int(r.reversed), int(r.redeemed), int(r.expired)
                )
                changes[r.bucket] = int(r.outstanding)
        elif r.customer_id is not None:
            active += bool(r.active)
            redeeming += bool(r.redeeming)
            if r.earned:
                earned[int(r.customer_id)] = int(r.earned)
    return Movements(owed_now - since_start, flows, changes, earned, active, redeeming)


EXPIRING = text("""
SELECT h.days,
       COALESCE(sum(l.remaining) FILTER (WHERE l.expires_at < :now + h.days * interval '1 day'),
                0) AS points,
       count(DISTINCT l.account_id)
           FILTER (WHERE l.expires_at < :now + h.days * interval '1 day') AS customers
  FROM unnest(CAST(:horizons AS int[])) AS h(days)
  CROSS JOIN (
      SELECT l.account_id, l.remaining, l.expires_at
        FROM lots l JOIN accounts a ON a.id = l.account_id
       WHERE a.program_id = :program AND l.remaining > 0 AND l.expires_at IS NOT NULL
         AND l.expires_at < :now + :longest * interval '1 day'
  ) AS l
 GROUP BY h.days ORDER BY h.days
""")


async def expiring(
    conn: AsyncConnection, program_id: int, now: datetime, horizons: Sequence[int]
) -> dict[int, tuple[int, int]]:
    """Points (and customers holding them) in lots that expire within each horizon from now —
    lots already due but not yet expired by the daily job count too: they go at its next run."""
    rows = await conn.execute(
        EXPIRING,
        {"program": program_id, "now": now, "horizons": list(horizons), "longest": max(horizons)},
    )
    found = {int(r.days): (int(r.points), int(r.customers)) for r in rows}
    return {d: found.get(d, (0, 0)) for d in horizons}


NAMES = text("SELECT id, name, external_id FROM customers WHERE id = ANY(:ids)")


async def names(conn: AsyncConnection, customer_ids: Sequence[int]) -> dict[int, Any]:
    rows = await conn.execute(NAMES, {"ids": list(customer_ids)})
    return {int(r.id): r for r in rows}


TOP_BALANCE = text("""
SELECT c.id, c.name, c.external_id, top.points
  FROM (SELECT a.customer_id, sum(a.balance) AS points
          FROM accounts a
         WHERE a.program_id = :program AND a.kind IN ('customer', 'held') AND a.balance > 0
         GROUP BY a.customer_id
         ORDER BY points DESC, a.customer_id LIMIT :limit) AS top
  JOIN customers c ON c.id = top.customer_id
 ORDER BY top.points DESC, c.id
""")


async def top_balance(conn: AsyncConnection, program_id: int, limit: int) -> list[Any]:
    """By what they hold now (held points included): the cached balances, not a range."""
    return list((await conn.execute(TOP_BALANCE, {"program": program_id, "limit": limit})).all())


MANUAL = text("""
SELECT t.actor, substr(t.rule_id, 8) AS reason, count(*) AS grants,
       sum(e.amount) AS points,
       COALESCE(sum(e.amount) FILTER (WHERE r.id IS NOT NULL), 0) AS reversed
  FROM ledger_transactions t
  JOIN ledger_entries e ON e.transaction_id = t.id
  JOIN accounts a ON a.id = e.account_id AND a.kind = 'customer'
  LEFT JOIN ledger_transactions r ON r.reverses_id = t.id
 WHERE t.program_id = :program AND t.kind = 'accrual' AND t.rule_id LIKE 'manual:%'
   AND t.effective_at >= :since AND t.effective_at < :until
 GROUP BY t.actor, t.rule_id
 ORDER BY points DESC, t.actor, t.rule_id
""")


async def manual_grants(conn: AsyncConnection, program_id: int, span: Range) -> list[Any]:
    """Manual bonuses (``ledger.grants``: rule ``manual:<reason>``) by who granted and why."""
    params = {"program": program_id, "since": span.since, "until": span.until}
    return list((await conn.execute(MANUAL, params)).all())


LEVELS = text("""
WITH bought AS (
    SELECT c.id AS customer_id, count(*) AS deals, sum(s.amount) AS amount
      FROM b24_deal_shares s
      JOIN customers c ON c.portal_id = s.portal_id AND c.external_id = 'contact:' || s.contact_id
     WHERE s.portal_id = :portal
       AND (CAST(:since AS timestamptz) IS NULL OR s.closed_at >= :since)
       AND (CAST(:pipelines AS bigint[]) IS NULL OR s.category_id = ANY(:pipelines))
     GROUP BY 1
    UNION ALL
    SELECT o.customer_id, count(*), sum(o.total)
      FROM pos_orders o
     WHERE o.portal_id = :portal AND o.status = 'committed'
       AND (CAST(:since AS timestamptz) IS NULL OR o.committed_at >= :since)
       AND (CAST(:pipelines AS bigint[]) IS NULL OR o.pipeline_id = ANY(:pipelines))
     GROUP BY 1
), metric AS (
    SELECT customer_id,
           CASE WHEN :basis = 'won_deals' THEN sum(deals) ELSE sum(amount) END AS metric
      FROM bought GROUP BY customer_id
)
SELECT width_bucket(metric, CAST(:starts AS numeric[])) AS tier, count(*) AS customers
  FROM metric GROUP BY 1
""")


async def level_counts(
    conn: AsyncConnection,
    portal_id: int,
    *,
    basis: str,
    starts: Sequence[int],
    pipelines: Sequence[int] | None,
    since: datetime | None,
) -> dict[int, int]:
    """How many customers with a purchase have each tier: 0 below the first ``starts`` (which
    ascend: ``program.crossref``), ``i`` from ``starts[i - 1]`` up to the next one. The metric
    is ``domain.levels.metric_of``'s: won deals or purchases (the contact's deal shares as the
    sync records them plus committed POS orders) in the levels' pipelines since ``since``."""
    rows = await conn.execute(
        LEVELS,
        {
            "portal": portal_id,
            "since": since,
            "pipelines": None if pipelines is None else list(pipelines),
            "basis": basis,
            "starts": list(starts),
        },
    )
    return {int(r.tier): int(r.customers) for r in rows}


async def customer_count(conn: AsyncConnection, portal_id: int) -> int:
    return int(
        await conn.scalar(
            text("SELECT count(*) FROM customers WHERE portal_id = :p"), {"p": portal_id}
        )
        or 0
    )
