"""Ledger invariants, checked on demand and by the scheduled check (STYLE 14).

Each check returns the rows that break it; an empty list means it holds. The database already
refuses most of these (see docs/invariants.md); these queries prove the caches and the
accounting identity agree with the entries, and catch what a constraint cannot see.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

CHECKS: dict[str, str] = {
    "every transaction nets to zero": """
        SELECT transaction_id, SUM(amount) AS off_by FROM ledger_entries
        GROUP BY transaction_id HAVING SUM(amount) <> 0""",
    "customer and held balance caches equal the sum of their entries": """
        SELECT a.id, a.balance, COALESCE(SUM(e.amount), 0) AS entries
          FROM accounts a LEFT JOIN ledger_entries e ON e.account_id = a.id
         WHERE a.kind IN ('customer', 'held')
         GROUP BY a.id HAVING a.balance <> COALESCE(SUM(e.amount), 0)""",
    "lot remainder equals the entries on its own account": """
        SELECT l.id, l.remaining, COALESCE(SUM(e.amount), 0) AS entries
          FROM lots l LEFT JOIN ledger_entries e
            ON e.lot_id = l.id AND e.account_id = l.account_id
         GROUP BY l.id HAVING l.remaining <> COALESCE(SUM(e.amount), 0)""",
    "customer balance equals the sum of its lots": """
        SELECT a.id, a.balance, COALESCE(SUM(l.remaining), 0) AS lots
          FROM accounts a LEFT JOIN lots l ON l.account_id = a.id
         WHERE a.kind = 'customer'
         GROUP BY a.id HAVING a.balance <> COALESCE(SUM(l.remaining), 0)""",
    "no balance below zero (except the issuer)": """
        SELECT a.id, a.kind, SUM(e.amount) AS balance
          FROM accounts a JOIN ledger_entries e ON e.account_id = a.id
         WHERE a.kind <> 'issued'
         GROUP BY a.id, a.kind HAVING SUM(e.amount) < 0""",
    "issued = redeemed + expired + held + outstanding (per program)": """
        SELECT a.program_id,
               -SUM(e.amount) FILTER (WHERE a.kind = 'issued') AS issued,
               SUM(e.amount) FILTER (WHERE a.kind <> 'issued') AS accounted
          FROM accounts a JOIN ledger_entries e ON e.account_id = a.id
         GROUP BY a.program_id
        HAVING -COALESCE(SUM(e.amount) FILTER (WHERE a.kind = 'issued'), 0)
               <> COALESCE(SUM(e.amount) FILTER (WHERE a.kind <> 'issued'), 0)""",
    "active holds hold exactly their amount": """
        SELECT h.id, h.amount, COALESCE(SUM(e.amount), 0) AS held
          FROM holds h
          JOIN ledger_transactions t ON t.hold_id = h.id
          JOIN ledger_entries e ON e.transaction_id = t.id
          JOIN accounts a ON a.id = e.account_id AND a.kind = 'held'
         GROUP BY h.id, h.amount, h.status
        HAVING (h.status = 'active' AND COALESCE(SUM(e.amount), 0) <> h.amount)
            OR (h.status <> 'active' AND COALESCE(SUM(e.amount), 0) <> 0)""",
}


@dataclass(frozen=True, slots=True)
class Violation:
    check: str
    rows: list[dict[str, object]]


async def check_invariants(conn: AsyncConnection) -> list[Violation]:
    found = []
    for name, sql in CHECKS.items():
        rows = [dict(r._mapping) for r in await conn.execute(text(sql))]
        if rows:
            found.append(Violation(name, rows))
    return found
