"""The books ``bench.growth`` grows: customers with three years of purchases each, written with
SQL (``bench.seed``) as the deal sync and the ledger would have written them.

Customer ``g`` (1, 2, …) is contact ``g`` of the portal. Its number of won deals is Zipf-like —
``k = floor(u ** -ALPHA)`` for a uniform ``u`` hashed from ``g``, at most ``CAP`` — so most
customers have one to three purchases and a few have thousands (at a million customers the
heaviest has ``CAP``). Each purchase is, as the sync leaves it:

* a won deal (``b24_deals``) and the contact's share of it (``b24_deal_shares``): the history
  that levels and the cabinet's orders read;
* an accrual of 5 % of the deal (``issued → customer``), its lot available 14 days later and
  expiring 365 days later, referenced ``deal:<id>``;
* every second purchase: a redemption (``customer → redeemed``) 15–44 days later — all of the lot
  if it has expired since, half of it otherwise;
* the others, once past their expiry: an expiry of the whole lot (``customer → expired``).

About 3.7 legs per purchase, 10 per customer on average. Rows are inserted in time order, so a
customer's history is spread over the tables as a real one is. Balances and lot remainders are
what the triggers would have made them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from bench.seed import id_bases, resync_sequences, run_untriggered

ALPHA = 0.69
CAP = 5_000
LIVE_DEALS = 1_000_000_000  # seeded deals are numbered 1…; the bench's own live deals from here
PEOPLE = "bench_growth_people"

#: The bench's own record of who is who (not a Kopilka table): contact, customer, account, the
#: number of purchases and the balance the seed gave.
CREATE_PEOPLE = f"""
CREATE TABLE IF NOT EXISTS {PEOPLE} (
    g bigint PRIMARY KEY, customer bigint NOT NULL, account bigint NOT NULL,
    purchases int NOT NULL, balance bigint NOT NULL DEFAULT 0)
"""

_H = "(((b.g * 7919 + b.i * 104729) % 2147483647) * 48271) % 2147483647"
BEFORE = [
    f"""INSERT INTO {PEOPLE} (g, customer, account, purchases)
        SELECT g, :cbase + g - :lo, :abase + g - :lo,
               LEAST(:cap, GREATEST(1, floor(power(
                   CAST((g * 2654435761) % 4294967296 + 1 AS float8) / 4294967296.0,
                   -CAST(:alpha AS float8)))))
          FROM generate_series(CAST(:lo AS bigint) + 1, :hi) AS g""",  # noqa: S608
    """INSERT INTO customers (id, portal_id, external_id, name, created_at)
       SELECT customer, :portal, 'contact:' || g, 'Клиент ' || g,
              CAST(:now AS timestamptz) - interval '1100 days'
         FROM bench_growth_people WHERE g > :lo""",
    """INSERT INTO accounts (id, portal_id, program_id, kind, customer_id)
       SELECT account, :portal, :program, CAST('customer' AS account_kind), customer
         FROM bench_growth_people WHERE g > :lo""",
    f"""CREATE TEMP TABLE growth_buys ON COMMIT DROP AS
        SELECT row_number() OVER (ORDER BY at, g, i) AS n, *
          FROM (SELECT b.g, b.account, b.i,
                       CAST(:now AS timestamptz) - ({_H} % (1095 * 1440)) * interval '1 minute'
                         AS at,
                       100000 + ({_H} / 7) % 2900000 AS deal_amount
                  FROM (SELECT p.g, p.account, i FROM bench_growth_people p
                          CROSS JOIN LATERAL generate_series(1, p.purchases) AS i
                         WHERE p.g > :lo) AS b) AS x""",  # noqa: S608
    """ALTER TABLE growth_buys ADD COLUMN points bigint, ADD COLUMN spent bigint,
         ADD COLUMN expired bigint""",
    """UPDATE growth_buys SET
         points = deal_amount / 20,
         spent = CASE WHEN i % 2 = 0 AND at <= CAST(:now AS timestamptz) - interval '45 days'
                      THEN CASE WHEN at <= CAST(:now AS timestamptz) - interval '365 days'
                                THEN deal_amount / 20 ELSE deal_amount / 40 END
                      ELSE 0 END,
         expired = CASE WHEN i % 2 = 1 AND at <= CAST(:now AS timestamptz) - interval '365 days'
                        THEN deal_amount / 20 ELSE 0 END""",
]
AFTER = [
    """INSERT INTO ledger_transactions (id, portal_id, program_id, kind, idempotency_key,
         input_hash, reason, actor, source, reference, rule_id, effective_at, created_at)
       SELECT :tbase + n, :portal, :program, 'accrual', 'growth:acc:' || (:dbase + n), 'x',
              'Бонусы по статусу', 'sync', 'deal ' || (:dbase + n), 'deal:' || (:dbase + n),
              'status-cashback', at, at
         FROM growth_buys ORDER BY n""",
    """INSERT INTO lots (id, account_id, transaction_id, amount, remaining, available_at,
         expires_at)
       SELECT :lbase + n, account, :tbase + n, points, points - spent - expired,
              at + interval '14 days', at + interval '365 days'
         FROM growth_buys ORDER BY n""",
    """INSERT INTO ledger_entries (transaction_id, account_id, lot_id, amount)
       SELECT :tbase + n, leg.account, leg.lot, leg.amount FROM growth_buys
        CROSS JOIN LATERAL (VALUES (CAST(:issued AS bigint), CAST(NULL AS bigint), -points),
                                   (account, :lbase + n, points)) AS leg(account, lot, amount)
        ORDER BY n""",
    """INSERT INTO ledger_transactions (id, portal_id, program_id, kind, idempotency_key,
         input_hash, reason, actor, source, reference, effective_at, created_at)
       SELECT :tbase + :buys + n, :portal, :program, 'redemption',
              'growth:red:' || (:dbase + n), 'x', 'оплата баллами', 'sync',
              'deal ' || (:dbase + n), 'deal:' || (:dbase + n),
              at + (15 + n % 30) * interval '1 day', at + (15 + n % 30) * interval '1 day'
         FROM growth_buys WHERE spent > 0 ORDER BY n""",
    """INSERT INTO ledger_entries (transaction_id, account_id, lot_id, amount)
       SELECT :tbase + :buys + n, leg.account, :lbase + n, leg.amount FROM growth_buys
        CROSS JOIN LATERAL (VALUES (account, -spent), (CAST(:redeemed AS bigint), spent))
             AS leg(account, amount)
        WHERE spent > 0 ORDER BY n""",
    """INSERT INTO ledger_transactions (id, portal_id, program_id, kind, idempotency_key,
         input_hash, reason, actor, effective_at, created_at)
       SELECT :tbase + 2 * :buys + n, :portal, :program, 'expiry',
              'growth:exp:' || (:dbase + n), 'x',
              'баллы сгорели', 'system', at + interval '365 days', at + interval '365 days'
         FROM growth_buys WHERE expired > 0 ORDER BY n""",
    """INSERT INTO ledger_entries (transaction_id, account_id, lot_id, amount)
       SELECT :tbase + 2 * :buys + n, leg.account, :lbase + n, leg.amount FROM growth_buys
        CROSS JOIN LATERAL (VALUES (account, -expired), (CAST(:expired AS bigint), expired))
             AS leg(account, amount)
        WHERE expired > 0 ORDER BY n""",
    # the cache the entry trigger keeps: a customer's balance, the sum of their lots' remainders
    # (system accounts keep none)
    """UPDATE bench_growth_people p SET balance = s.total
         FROM (SELECT g, sum(points - spent - expired) AS total FROM growth_buys GROUP BY g) s
        WHERE p.g = s.g""",
    """UPDATE accounts a SET balance = p.balance FROM bench_growth_people p
        WHERE p.g > :lo AND a.id = p.account""",
    # what the deal sync records of each won deal
    """INSERT INTO b24_deals (portal_id, deal_id, category_id, stage_id, semantic, amount,
         contact_ids, closed_at, modified_at, applied_discount, synced_at)
       SELECT :portal, :dbase + n, 0, 'WON', 'S', deal_amount, ARRAY[g], at, at,
              CAST('{}' AS jsonb), at FROM growth_buys ORDER BY n""",
    """INSERT INTO b24_deal_shares (portal_id, deal_id, contact_id, category_id, closed_at, amount)
       SELECT :portal, :dbase + n, g, 0, at, deal_amount FROM growth_buys ORDER BY n""",
]


async def grow(
    conn: AsyncConnection,
    portal: int,
    program: int,
    system: dict[str, int],
    lo: int,
    hi: int,
    now: datetime,
) -> int:
    """Customers ``lo+1 … hi`` with their histories, in the caller's transaction. Returns the
    number of purchases written."""
    await conn.execute(text(CREATE_PEOPLE))
    base = await id_bases(conn)
    deals = await conn.scalar(
        text(
            "SELECT COALESCE(max(deal_id), 0) FROM b24_deals WHERE portal_id = :p AND deal_id < :l"
        ),
        {"p": portal, "l": LIVE_DEALS},
    )
    params: dict[str, Any] = {
        "portal": portal,
        "program": program,
        "lo": lo,
        "hi": hi,
        "now": now,
        "cap": CAP,
        "alpha": ALPHA,
        "cbase": base["customers"],
        "abase": base["accounts"],
        "tbase": base["ledger_transactions"],
        "lbase": base["lots"],
        "dbase": int(deals or 0),
        **system,
    }
    await run_untriggered(conn, BEFORE, params)
    params["buys"] = int(await conn.scalar(text("SELECT count(*) FROM growth_buys")) or 0)
    await run_untriggered(conn, AFTER, params)
    await resync_sequences(conn)
    return int(params["buys"])
