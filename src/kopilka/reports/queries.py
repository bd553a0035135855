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

FLOWS = text("""
SELECT CASE WHEN t.effective_at < :since THEN NULL
            ELSE CAST(date_trunc(:unit, t.effective_at AT TIME ZONE :tz) AS date) END AS bucket,
       COALESCE(-sum(e.amount) FILTER (WHERE a.kind = 'issued' AND t.kind = 'accrual'), 0)
           AS accrued,
       COALESCE(sum(e.amount) FILTER (WHERE a.kind = 'issued' AND t.kind = 'reversal'), 0)
           AS reversed,
       COALESCE(sum(e.amount) FILTER (WHERE a.kind = 'redeemed'), 0) AS redeemed,
       COALESCE(sum(e.amount) FILTER (WHERE a.kind = 'expired'), 0) AS expired,
       COALESCE(sum(e.amount) FILTER (WHERE a.kind IN ('customer', 'held')), 0) AS outstanding
  FROM ledger_entries e
  JOIN ledger_transactions t ON t.id = e.transaction_id
  JOIN accounts a ON a.id = e.account_id
 WHERE t.program_id = :program AND t.effective_at < :until
 GROUP BY 1
""")


@dataclass(frozen=True, slots=True)
class Movements:
    opening: int  # customer + held balances before the range
    flows: dict[date, Flow]
    changes: dict[date, int]  # the change of customer + held balances, per bucket


async def movements(conn: AsyncConnection, program_id: int, span: Range) -> Movements:
    rows = await conn.execute(
        FLOWS,
        {
            "program": program_id,
            "since": span.since,
            "until": span.until,
            "unit": span.unit,
            "tz": span.tz.key,
        },
    )
    opening, flows, changes = 0, {}, {}
    for r in rows:
        if r.bucket is None:
            opening = int(r.outstanding)
            continue
        flows[r.bucket] = Flow(
            r.bucket, int(r.accrued), int(r.reversed), int(r.redeemed), int(r.expired)
        )
        changes[r.bucket] = int(r.outstanding)
    return Movements(opening, flows, changes)


ACTIVITY = text("""
SELECT count(DISTINCT a.customer_id) FILTER (WHERE t.kind <> 'expiry') AS active,
       count(DISTINCT a.customer_id) FILTER (WHERE t.kind IN ('redemption', 'capture'))
           AS redeeming
  FROM ledger_transactions t
  JOIN ledger_entries e ON e.transaction_id = t.id
  JOIN accounts a ON a.id = e.account_id AND a.kind = 'customer'
 WHERE t.program_id = :program AND t.effective_at >= :since AND t.effective_at < :until
""")


async def activity(conn: AsyncConnection, program_id: int, span: Range) -> tuple[int, int]:
    """Customers with a movement of their own (expiries are not one) and those who spent."""
    row = (
        await conn.execute(
            ACTIVITY, {"program": program_id, "since": span.since, "until": span.until}
        )
    ).one()
    return int(row.active), int(row.redeeming)


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


TOP_ACCRUED = text("""
SELECT c.id, c.name, c.external_id, top.points
  FROM (SELECT a.customer_id, sum(e.amount) AS points
          FROM ledger_transactions t
          JOIN ledger_entries e ON e.transaction_id = t.id
          JOIN accounts a ON a.id = e.account_id AND a.kind = 'customer'
         WHERE t.program_id = :program AND t.kind = 'accrual'
           AND t.effective_at >= :since AND t.effective_at < :until
         GROUP BY a.customer_id
         ORDER BY points DESC, a.customer_id LIMIT :limit) AS top
  JOIN customers c ON c.id = top.customer_id
 ORDER BY top.points DESC, c.id
""")

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


async def top_accrued(conn: AsyncConnection, program_id: int, span: Range, limit: int) -> list[Any]:
    params = {"program": program_id, "since": span.since, "until": span.until, "limit": limit}
    return list((await conn.execute(TOP_ACCRUED, params)).all())


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


PURCHASES = text("""
SELECT c.id AS customer_id, s.category_id AS pipeline, count(*) AS deals, sum(s.amount) AS amount
  FROM b24_deal_shares s
  JOIN customers c ON c.portal_id = s.portal_id AND c.external_id = 'contact:' || s.contact_id
 WHERE s.portal_id = :portal AND (CAST(:since AS timestamptz) IS NULL OR s.closed_at >= :since)
 GROUP BY 1, 2
UNION ALL
SELECT o.customer_id, o.pipeline_id, count(*), sum(o.total)
  FROM pos_orders o
 WHERE o.portal_id = :portal AND o.status = 'committed'
   AND (CAST(:since AS timestamptz) IS NULL OR o.committed_at >= :since)
 GROUP BY 1, 2
""")


async def purchases(
    conn: AsyncConnection, portal_id: int, since: datetime | None
) -> dict[int, list[tuple[int, int, int]]]:
    """Every customer's won deals and purchases by pipeline since ``since``: their deal shares
    as the sync records them plus committed POS orders (what ``api.portal.customer_history``
    counts for one customer, for all of them in one statement)."""
    found: dict[int, list[tuple[int, int, int]]] = {}
    for r in await conn.execute(PURCHASES, {"portal": portal_id, "since": since}):
        found.setdefault(int(r.customer_id), []).append(
            (int(r.pipeline), int(r.deals), int(r.amount))
        )
    return found


async def customer_count(conn: AsyncConnection, portal_id: int) -> int:
    return int(
        await conn.scalar(
            text("SELECT count(*) FROM customers WHERE portal_id = :p"), {"p": portal_id}
        )
        or 0
    )
