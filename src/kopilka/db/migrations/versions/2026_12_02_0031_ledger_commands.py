"""Issue 21 (item 1): accruals and redemptions as one server-side statement each.

``ledger_accrue`` and ``ledger_redeem`` take a batch of commands as arrays (a single command is a
batch of one) and do in the server what ``ledger.accrual`` and ``ledger.spending`` did in four to
six round trips: find or create the accounts (an unknown customer writes nothing), look each
idempotency key up (a replay returns the stored transaction, other inputs under the same key are
a conflict), lock the customers' accounts in id order, spend the soonest-expiring available lots
first, insert the transactions, lots and legs, and return every transaction as stored. The
checks that were the database's stay the database's: the entry trigger moves balances and
remainders (the CHECKs refuse an overdraw), the deferred trigger checks that each transaction
nets to zero, and the UNIQUE key settles a race between twins. Python still computes the input
hashes and validates the commands (``ledger.commands``).

Revision ID: 0031
Revises: 0029
Create Date: 2026-12-02
"""

from alembic import op

revision = "0031"
down_revision = "0029"
branch_labels = None
depends_on = None

STORED_COLS = """
    id BIGINT, kind TEXT, idempotency_key TEXT, reason TEXT, actor TEXT, source TEXT,
    reference TEXT, program_hash TEXT, rule_id TEXT, rule_inputs JSONB, hold_id BIGINT,
    reverses_id BIGINT, effective_at TIMESTAMPTZ, created_at TIMESTAMPTZ, leg_accounts BIGINT[],
    leg_kinds TEXT[], leg_customers BIGINT[], leg_lots BIGINT[], leg_amounts BIGINT[]
"""

FUNCTIONS = """
-- The program-wide account of ``kind`` (issued, redeemed, expired), created on first use.
CREATE FUNCTION ledger_system_account(p_portal BIGINT, p_program BIGINT, p_kind account_kind)
RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    found_id BIGINT;
BEGIN
    SELECT id INTO found_id FROM accounts
     WHERE program_id = p_program AND kind = p_kind AND customer_id IS NULL;
    IF found_id IS NULL THEN
        INSERT INTO accounts (portal_id, program_id, kind) VALUES (p_portal, p_program, p_kind)
        ON CONFLICT DO NOTHING;
        SELECT id INTO found_id FROM accounts
         WHERE program_id = p_program AND kind = p_kind AND customer_id IS NULL;
    END IF;
    RETURN found_id;
END $$;

-- Creates the customers' missing accounts of ``kind``. Returns the first customer that is not
-- the portal's (and then creates nothing), or NULL.
CREATE FUNCTION ledger_customer_accounts(
    p_portal BIGINT, p_program BIGINT, p_kind account_kind, p_customers BIGINT[])
RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    missing BIGINT[];
    unknown BIGINT;
BEGIN
    SELECT array_agg(DISTINCT u.c ORDER BY u.c) INTO missing FROM unnest(p_customers) u(c)
     WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.program_id = p_program
                          AND a.kind = p_kind AND a.customer_id = u.c);
    IF missing IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT min(m.c) INTO unknown FROM unnest(missing) m(c)
     WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = m.c AND c.portal_id = p_portal);
    IF unknown IS NOT NULL THEN
        RETURN unknown;
    END IF;
    INSERT INTO accounts (portal_id, program_id, kind, customer_id)
    SELECT p_portal, p_program, p_kind, m.c FROM unnest(missing) m(c)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

-- What a command returns, one row per command in order: its outcome (posted | replay |
-- conflict | insufficient | unknown_customer), a detail (the stored kind of a conflict, the
-- points available to an insufficient spend, the unknown customer), and the transaction as
-- stored with its legs in entry order.
CREATE FUNCTION ledger_outcomes(p_outcomes TEXT[], p_details TEXT[], p_ids BIGINT[])
RETURNS TABLE (outcome TEXT, detail TEXT, STORED_COLS)
LANGUAGE sql STABLE AS $$
    SELECT o.outcome, o.detail, t.id, t.kind::text, t.idempotency_key, t.reason, t.actor,
           t.source, t.reference, t.program_hash, t.rule_id, t.rule_inputs, t.hold_id,
           t.reverses_id, t.effective_at, t.created_at, l.accounts, l.kinds, l.customers,
           l.lots, l.amounts
      FROM unnest(p_outcomes, p_details, p_ids) WITH ORDINALITY AS o(outcome, detail, tx, ord)
      LEFT JOIN ledger_transactions t ON t.id = o.tx AND o.outcome IN ('posted', 'replay')
      LEFT JOIN LATERAL (
          SELECT array_agg(e.account_id ORDER BY e.id) AS accounts,
                 array_agg(a.kind::text ORDER BY e.id) AS kinds,
                 array_agg(a.customer_id ORDER BY e.id) AS customers,
                 array_agg(e.lot_id ORDER BY e.id) AS lots,
                 array_agg(e.amount ORDER BY e.id) AS amounts
            FROM ledger_entries e JOIN accounts a ON a.id = e.account_id
           WHERE e.transaction_id = t.id) l ON true
     ORDER BY o.ord
$$;

-- Earning points: issued -> customer, one new lot per accrual.
CREATE FUNCTION ledger_accrue(
    p_portal BIGINT, p_program BIGINT, p_program_hash TEXT,
    p_customer BIGINT[], p_amount BIGINT[], p_key TEXT[], p_hash TEXT[], p_reason TEXT[],
    p_actor TEXT[], p_source TEXT[], p_reference TEXT[], p_rule_id TEXT[],
    p_rule_inputs TEXT[], p_available_at TIMESTAMPTZ[], p_expires_at TIMESTAMPTZ[],
    p_effective_at TIMESTAMPTZ[])
RETURNS TABLE (outcome TEXT, detail TEXT, STORED_COLS)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    issued BIGINT;
    unknown BIGINT;
    ids BIGINT[];
    outcomes TEXT[];
    details TEXT[];
BEGIN
    unknown := ledger_customer_accounts(p_portal, p_program, 'customer', p_customer);
    IF unknown IS NOT NULL THEN
        RETURN QUERY SELECT * FROM ledger_outcomes(
            ARRAY['unknown_customer'], ARRAY[unknown::text], ARRAY[NULL::BIGINT]);
        RETURN;
    END IF;
    issued := ledger_system_account(p_portal, p_program, 'issued');
    -- 1. the transactions; a key already stored is skipped here (NULL id) and looked up below
    WITH input AS (
        SELECT * FROM unnest(p_key, p_hash, p_reason, p_actor, p_source, p_reference,
                             p_rule_id, p_rule_inputs, p_effective_at) WITH ORDINALITY
               AS u(key, hash, reason, actor, source, reference, rule_id, rule_inputs,
                    effective_at, ord)
    ), inserted AS (
        INSERT INTO ledger_transactions
            (portal_id, program_id, program_hash, kind, idempotency_key, input_hash, reason,
             actor, source, reference, rule_id, rule_inputs, effective_at)
        SELECT p_portal, p_program, p_program_hash, 'accrual', i.key, i.hash, i.reason,
               i.actor, i.source, i.reference, i.rule_id, i.rule_inputs::jsonb, i.effective_at
          FROM input i ORDER BY i.ord
        ON CONFLICT ON CONSTRAINT idempotency_key_unique DO NOTHING
        RETURNING ledger_transactions.id, ledger_transactions.idempotency_key
    )
    SELECT array_agg(n.id ORDER BY i.ord) INTO ids
      FROM input i LEFT JOIN inserted n ON n.idempotency_key = i.key;
    -- 2. a lot for each new transaction, and its two legs (issued -amount, customer +amount)
    WITH fresh AS (
        SELECT u.tx, a.id AS account_id, u.amount, u.available_at, u.expires_at
          FROM unnest(ids, p_customer, p_amount, p_available_at, p_expires_at)
               AS u(tx, customer, amount, available_at, expires_at)
          JOIN accounts a ON a.program_id = p_program AND a.kind = 'customer'
                         AND a.customer_id = u.customer
         WHERE u.tx IS NOT NULL
    ), lot AS (
        INSERT INTO lots (account_id, transaction_id, amount, available_at, expires_at)
        SELECT f.account_id, f.tx, f.amount, f.available_at, f.expires_at FROM fresh f
        ORDER BY f.tx
        RETURNING lots.id, lots.transaction_id, lots.account_id, lots.amount
    )
    INSERT INTO ledger_entries (transaction_id, account_id, lot_id, amount)
    SELECT l.transaction_id, x.account_id, x.lot_id, x.amount
      FROM lot l CROSS JOIN LATERAL (VALUES (1, issued, NULL::BIGINT, -l.amount),
                                            (2, l.account_id, l.id, l.amount))
           AS x(n, account_id, lot_id, amount)
     ORDER BY l.transaction_id, x.n;
    -- 3. each command's outcome; keys stored earlier are replays, or conflicts if their
    --    inputs differ (a new statement: it sees a twin that committed while we waited)
    IF array_position(ids, NULL) IS NULL THEN
        outcomes := array_fill('posted'::text, ARRAY[cardinality(ids)]);
        details := array_fill(NULL::text, ARRAY[cardinality(ids)]);
    ELSE
        SELECT array_agg(CASE WHEN u.tx IS NOT NULL THEN 'posted'
                              WHEN t.kind = 'accrual' AND t.input_hash = u.hash THEN 'replay'
                              ELSE 'conflict' END ORDER BY u.ord),
               array_agg(t.kind::text ORDER BY u.ord),
               array_agg(COALESCE(u.tx, t.id) ORDER BY u.ord)
          INTO outcomes, details, ids
          FROM unnest(ids, p_key, p_hash) WITH ORDINALITY AS u(tx, key, hash, ord)
          LEFT JOIN ledger_transactions t
                 ON u.tx IS NULL AND t.portal_id = p_portal AND t.idempotency_key = u.key;
    END IF;
    RETURN QUERY SELECT * FROM ledger_outcomes(outcomes, details, ids);
END $$;

-- Spending points: customer -> redeemed from the soonest-expiring available lots (the order of
-- ``domain.allocation.spend_order``), every customer's account locked in id order first. A
-- spend the customer cannot afford writes nothing and says what is available.
CREATE FUNCTION ledger_redeem(
    p_portal BIGINT, p_program BIGINT, p_program_hash TEXT,
    p_customer BIGINT[], p_amount BIGINT[], p_key TEXT[], p_hash TEXT[], p_reason TEXT[],
    p_actor TEXT[], p_source TEXT[], p_reference TEXT[], p_effective_at TIMESTAMPTZ[])
RETURNS TABLE (outcome TEXT, detail TEXT, STORED_COLS)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    redeemed BIGINT;
    unknown BIGINT;
    account BIGINT;
    tx BIGINT;
    earlier RECORD;
    lot RECORD;
    lot_ids BIGINT[];
    takes BIGINT[];
    wanted BIGINT;
    ids BIGINT[] := '{}';
    outcomes TEXT[] := '{}';
    details TEXT[] := '{}';
BEGIN
    unknown := ledger_customer_accounts(p_portal, p_program, 'customer', p_customer);
    IF unknown IS NOT NULL THEN
        RETURN QUERY SELECT * FROM ledger_outcomes(
            ARRAY['unknown_customer'], ARRAY[unknown::text], ARRAY[NULL::BIGINT]);
        RETURN;
    END IF;
    redeemed := ledger_system_account(p_portal, p_program, 'redeemed');
    PERFORM 1 FROM accounts a
      WHERE a.program_id = p_program AND a.kind = 'customer' AND a.customer_id = ANY (p_customer)
      ORDER BY a.id FOR UPDATE;
    FOR i IN 1 .. cardinality(p_key) LOOP
        -- looked up under the lock: a twin of this spend that committed is seen
        SELECT t.id, t.kind::text AS kind, t.input_hash INTO earlier FROM ledger_transactions t
         WHERE t.portal_id = p_portal AND t.idempotency_key = p_key[i];
        IF FOUND THEN
            ids[i] := earlier.id;
            details[i] := earlier.kind;
            outcomes[i] := CASE WHEN earlier.kind = 'redemption'
                                 AND earlier.input_hash = p_hash[i] THEN 'replay'
                                ELSE 'conflict' END;
            CONTINUE;
        END IF;
        SELECT a.id INTO account FROM accounts a
         WHERE a.program_id = p_program AND a.kind = 'customer' AND a.customer_id = p_customer[i];
        lot_ids := '{}';
        takes := '{}';
        wanted := p_amount[i];
        FOR lot IN
            SELECT l.id, l.remaining FROM lots l
             WHERE l.account_id = account AND l.remaining > 0
               AND l.available_at <= p_effective_at[i]
               AND (l.expires_at IS NULL OR l.expires_at > p_effective_at[i])
             ORDER BY l.expires_at IS NULL, COALESCE(l.expires_at, l.available_at),
                      l.available_at, l.id
        LOOP
            EXIT WHEN wanted = 0;
            lot_ids := lot_ids || lot.id;
            takes := takes || LEAST(lot.remaining, wanted);
            wanted := wanted - LEAST(lot.remaining, wanted);
        END LOOP;
        IF wanted > 0 THEN
            ids[i] := NULL;
            outcomes[i] := 'insufficient';
            details[i] := (p_amount[i] - wanted)::text;
            CONTINUE;
        END IF;
        INSERT INTO ledger_transactions
            (portal_id, program_id, program_hash, kind, idempotency_key, input_hash, reason,
             actor, source, reference, effective_at)
        VALUES (p_portal, p_program, p_program_hash, 'redemption', p_key[i], p_hash[i],
                p_reason[i], p_actor[i], p_source[i], p_reference[i], p_effective_at[i])
        ON CONFLICT ON CONSTRAINT idempotency_key_unique DO NOTHING
        RETURNING ledger_transactions.id INTO tx;
        IF tx IS NULL THEN  -- the key was taken meanwhile by a spend of another customer
            SELECT t.id, t.kind::text AS kind, t.input_hash INTO earlier
              FROM ledger_transactions t
             WHERE t.portal_id = p_portal AND t.idempotency_key = p_key[i];
            ids[i] := earlier.id;
            details[i] := earlier.kind;
            outcomes[i] := CASE WHEN earlier.kind = 'redemption'
                                 AND earlier.input_hash = p_hash[i] THEN 'replay'
                                ELSE 'conflict' END;
            CONTINUE;
        END IF;
        INSERT INTO ledger_entries (transaction_id, account_id, lot_id, amount)
        SELECT tx, x.account_id, x.lot_id, x.amount
          FROM (SELECT 1 AS side, k, account AS account_id, lot_ids[k] AS lot_id,
                       -takes[k] AS amount FROM generate_subscripts(lot_ids, 1) k
                UNION ALL
                SELECT 2, k, redeemed, lot_ids[k], takes[k]
                  FROM generate_subscripts(lot_ids, 1) k) x
         ORDER BY x.side, x.k;
        ids[i] := tx;
        outcomes[i] := 'posted';
        details[i] := NULL;
    END LOOP;
    RETURN QUERY SELECT * FROM ledger_outcomes(outcomes, details, ids);
END $$;
"""

DROP = """
DROP FUNCTION ledger_redeem, ledger_accrue, ledger_outcomes, ledger_customer_accounts,
              ledger_system_account;
"""


def upgrade() -> None:
    op.execute(FUNCTIONS.replace("STORED_COLS", STORED_COLS))


def downgrade() -> None:
    op.execute(DROP)
