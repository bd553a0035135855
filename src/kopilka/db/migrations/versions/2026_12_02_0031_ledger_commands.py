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
Revises: 0030
Create Date: 2026-12-02
"""

from alembic import op

revision = "0031"
down_revision = "0030"
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

-- The accounts of ``kind`` of the customers, in their order, the missing ones created; or the
-- first customer that is not the portal's (and then nothing is created). Point lookups one by
-- one: a join here was planned, on stale statistics, as a scan of every account of the program.
CREATE FUNCTION ledger_customer_accounts(
    p_portal BIGINT, p_program BIGINT, p_kind account_kind, p_customers BIGINT[],
    OUT account_ids BIGINT[], OUT unknown BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
    customer BIGINT;
    found_id BIGINT;
    missing BIGINT[] := '{}';
BEGIN
    account_ids := '{}';
    FOREACH customer IN ARRAY p_customers LOOP
        SELECT a.id INTO found_id FROM accounts a
         WHERE a.program_id = p_program AND a.kind = p_kind AND a.customer_id = customer;
        account_ids := account_ids || found_id;
        IF found_id IS NULL THEN
            missing := missing || customer;
        END IF;
    END LOOP;
    IF cardinality(missing) = 0 THEN
        RETURN;
    END IF;
    FOREACH customer IN ARRAY missing LOOP
        PERFORM 1 FROM customers c WHERE c.id = customer AND c.portal_id = p_portal;
        IF NOT FOUND THEN
            account_ids := NULL;
            unknown := customer;
            RETURN;
        END IF;
    END LOOP;
    account_ids := '{}';
    FOREACH customer IN ARRAY p_customers LOOP
        INSERT INTO accounts (portal_id, program_id, kind, customer_id)
        VALUES (p_portal, p_program, p_kind, customer) ON CONFLICT DO NOTHING;
        SELECT a.id INTO found_id FROM accounts a
         WHERE a.program_id = p_program AND a.kind = p_kind AND a.customer_id = customer;
        account_ids := account_ids || found_id;
    END LOOP;
END $$;

-- An earlier transaction under ``p_key``: a replay when it is of ``p_kind`` with the same
-- input hash, else a conflict (the detail names its kind).
CREATE FUNCTION ledger_earlier(
    p_portal BIGINT, p_key TEXT, p_kind TEXT, p_hash TEXT,
    OUT tx BIGINT, OUT outcome TEXT, OUT detail TEXT)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT t.id, CASE WHEN t.kind::text = p_kind AND t.input_hash = p_hash THEN 'replay'
                      ELSE 'conflict' END, t.kind::text
      INTO tx, outcome, detail
      FROM ledger_transactions t WHERE t.portal_id = p_portal AND t.idempotency_key = p_key;
END $$;

-- What a command returns, one row per command in order: its outcome (posted | replay |
-- conflict | insufficient | unknown_customer), a detail (the stored kind of a conflict, the
-- points available to an insufficient spend, the unknown customer), and the transaction as
-- stored with its legs in entry order. Index lookups only: the planner settings keep a plan
-- made on stale statistics from scanning the ledger.
CREATE FUNCTION ledger_outcomes(p_outcomes TEXT[], p_details TEXT[], p_ids BIGINT[])
RETURNS TABLE (outcome TEXT, detail TEXT, STORED_COLS)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
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
     ORDER BY o.ord;
END $$;

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
    mine RECORD;
    ids BIGINT[];
    outcomes TEXT[];
    details TEXT[];
    earlier RECORD;
BEGIN
    mine := ledger_customer_accounts(p_portal, p_program, 'customer', p_customer);
    IF mine.unknown IS NOT NULL THEN
        RETURN QUERY SELECT * FROM ledger_outcomes(
            ARRAY['unknown_customer'], ARRAY[mine.unknown::text], ARRAY[NULL::BIGINT]);
        RETURN;
    END IF;
    issued := ledger_system_account(p_portal, p_program, 'issued');
    -- 1. the transactions; a key already stored is skipped (NULL id) and looked up below
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
    WITH lot AS (
        INSERT INTO lots (account_id, transaction_id, amount, available_at, expires_at)
        SELECT u.account_id, u.tx, u.amount, u.available_at, u.expires_at
          FROM unnest(ids, mine.account_ids, p_amount, p_available_at, p_expires_at)
               AS u(tx, account_id, amount, available_at, expires_at)
         WHERE u.tx IS NOT NULL
         ORDER BY u.tx
        RETURNING lots.id, lots.transaction_id, lots.account_id, lots.amount
    )
    INSERT INTO ledger_entries (transaction_id, account_id, lot_id, amount)
    SELECT l.transaction_id, x.account_id, x.lot_id, x.amount
      FROM lot l CROSS JOIN LATERAL (VALUES (1, issued, NULL::BIGINT, -l.amount),
                                            (2, l.account_id, l.id, l.amount))
           AS x(n, account_id, lot_id, amount)
     ORDER BY l.transaction_id, x.n;
    -- 3. each command's outcome; a key stored earlier is a replay, or a conflict if its
    --    inputs differ (looked up in a new statement: it sees a twin that committed meanwhile)
    outcomes := array_fill('posted'::text, ARRAY[cardinality(ids)]);
    details := array_fill(NULL::text, ARRAY[cardinality(ids)]);
    FOR i IN 1 .. cardinality(ids) LOOP
        CONTINUE WHEN ids[i] IS NOT NULL;
        earlier := ledger_earlier(p_portal, p_key[i], 'accrual', p_hash[i]);
        ids[i] := earlier.tx;
        outcomes[i] := earlier.outcome;
        details[i] := earlier.detail;
    END LOOP;
    RETURN QUERY SELECT * FROM ledger_outcomes(outcomes, details, ids);
END $$;

-- Spending points: customer -> redeemed from the soonest-expiring available lots (the order of
-- ``domain.allocation.spend_order``), every customer's account locked in id order first. A
-- spend the customer cannot afford writes nothing and says what is available. The legs of the
-- whole batch are inserted by one statement at the end (one run of the ledger's trigger), so
-- what earlier spends of the batch took from a lot is counted here.
CREATE FUNCTION ledger_redeem(
    p_portal BIGINT, p_program BIGINT, p_program_hash TEXT,
    p_customer BIGINT[], p_amount BIGINT[], p_key TEXT[], p_hash TEXT[], p_reason TEXT[],
    p_actor TEXT[], p_source TEXT[], p_reference TEXT[], p_effective_at TIMESTAMPTZ[])
RETURNS TABLE (outcome TEXT, detail TEXT, STORED_COLS)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    redeemed BIGINT;
    mine RECORD;
    tx BIGINT;
    earlier RECORD;
    lot RECORD;
    lot_ids BIGINT[];
    takes BIGINT[];
    wanted BIGINT;
    free BIGINT;
    at INT;
    taken_lots BIGINT[] := '{}';  -- what this batch took so far, lot by lot
    taken BIGINT[] := '{}';
    leg_tx BIGINT[] := '{}';
    leg_account BIGINT[] := '{}';
    leg_lot BIGINT[] := '{}';
    leg_amount BIGINT[] := '{}';
    ids BIGINT[] := '{}';
    outcomes TEXT[] := '{}';
    details TEXT[] := '{}';
BEGIN
    mine := ledger_customer_accounts(p_portal, p_program, 'customer', p_customer);
    IF mine.unknown IS NOT NULL THEN
        RETURN QUERY SELECT * FROM ledger_outcomes(
            ARRAY['unknown_customer'], ARRAY[mine.unknown::text], ARRAY[NULL::BIGINT]);
        RETURN;
    END IF;
    redeemed := ledger_system_account(p_portal, p_program, 'redeemed');
    PERFORM 1 FROM accounts a WHERE a.id = ANY (mine.account_ids) ORDER BY a.id FOR UPDATE;
    FOR i IN 1 .. cardinality(p_key) LOOP
        -- looked up under the lock: a twin of this spend that committed is seen
        earlier := ledger_earlier(p_portal, p_key[i], 'redemption', p_hash[i]);
        IF earlier.tx IS NOT NULL THEN
            ids[i] := earlier.tx;
            outcomes[i] := earlier.outcome;
            details[i] := earlier.detail;
            CONTINUE;
        END IF;
        lot_ids := '{}';
        takes := '{}';
        wanted := p_amount[i];
        FOR lot IN
            SELECT l.id, l.remaining FROM lots l
             WHERE l.account_id = mine.account_ids[i] AND l.remaining > 0
               AND l.available_at <= p_effective_at[i]
               AND (l.expires_at IS NULL OR l.expires_at > p_effective_at[i])
             ORDER BY l.expires_at IS NULL, COALESCE(l.expires_at, l.available_at),
                      l.available_at, l.id
        LOOP
            EXIT WHEN wanted = 0;
            at := array_position(taken_lots, lot.id);
            free := lot.remaining - COALESCE(taken[at], 0);
            CONTINUE WHEN free <= 0;
            lot_ids := lot_ids || lot.id;
            takes := takes || LEAST(free, wanted);
            wanted := wanted - LEAST(free, wanted);
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
        IF tx IS NULL THEN  -- the key was taken meanwhile, by a spend of another customer
            earlier := ledger_earlier(p_portal, p_key[i], 'redemption', p_hash[i]);
            ids[i] := earlier.tx;
            outcomes[i] := earlier.outcome;
            details[i] := earlier.detail;
            CONTINUE;
        END IF;
        FOR k IN 1 .. cardinality(lot_ids) LOOP  -- the customer's legs, then the redeemed ones
            leg_tx := leg_tx || tx;
            leg_account := leg_account || mine.account_ids[i];
            leg_lot := leg_lot || lot_ids[k];
            leg_amount := leg_amount || -takes[k];
            at := array_position(taken_lots, lot_ids[k]);
            IF at IS NULL THEN
                taken_lots := taken_lots || lot_ids[k];
                taken := taken || takes[k];
            ELSE
                taken[at] := taken[at] + takes[k];
            END IF;
        END LOOP;
        FOR k IN 1 .. cardinality(lot_ids) LOOP
            leg_tx := leg_tx || tx;
            leg_account := leg_account || redeemed;
            leg_lot := leg_lot || lot_ids[k];
            leg_amount := leg_amount || takes[k];
        END LOOP;
        ids[i] := tx;
        outcomes[i] := 'posted';
        details[i] := NULL;
    END LOOP;
    INSERT INTO ledger_entries (transaction_id, account_id, lot_id, amount)
    SELECT u.tx, u.account_id, u.lot_id, u.amount
      FROM unnest(leg_tx, leg_account, leg_lot, leg_amount) WITH ORDINALITY
           AS u(tx, account_id, lot_id, amount, ord)
     ORDER BY u.ord;
    RETURN QUERY SELECT * FROM ledger_outcomes(outcomes, details, ids);
END $$;
"""

DROP = """
DROP FUNCTION ledger_redeem, ledger_accrue, ledger_outcomes, ledger_earlier,
              ledger_customer_accounts, ledger_system_account;
"""


def upgrade() -> None:
    op.execute(FUNCTIONS.replace("STORED_COLS", STORED_COLS))


def downgrade() -> None:
    op.execute(DROP)
