"""Tenants, programs, customers and the points ledger, with its invariants enforced in SQL.

See docs/invariants.md for what each constraint and trigger guarantees.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = r"""
CREATE TABLE portals (
    id          BIGSERIAL PRIMARY KEY,
    member_id   TEXT NOT NULL UNIQUE CHECK (member_id <> ''),
    title       TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE programs (
    id          BIGSERIAL PRIMARY KEY,
    portal_id   BIGINT NOT NULL REFERENCES portals ON DELETE RESTRICT,
    code        TEXT NOT NULL CHECK (code <> ''),
    title       TEXT NOT NULL DEFAULT '',
    timezone    TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (portal_id, code),
    UNIQUE (id, portal_id)
);

-- Every version of a program file that ever posted an entry: entries name it by hash.
CREATE TABLE program_versions (
    program_id  BIGINT NOT NULL REFERENCES programs ON DELETE RESTRICT,
    hash        TEXT NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
    source_name TEXT NOT NULL,
    source      TEXT NOT NULL,
    loaded_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (program_id, hash)
);

CREATE TABLE customers (
    id          BIGSERIAL PRIMARY KEY,
    portal_id   BIGINT NOT NULL REFERENCES portals ON DELETE RESTRICT,
    external_id TEXT NOT NULL CHECK (external_id <> ''),   -- the Bitrix24 contact ID
    name        TEXT NOT NULL DEFAULT '',
    phone       TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (portal_id, external_id),
    UNIQUE (id, portal_id)
);

CREATE TYPE account_kind AS ENUM ('issued', 'customer', 'held', 'redeemed', 'expired');

CREATE TABLE accounts (
    id          BIGSERIAL PRIMARY KEY,
    portal_id   BIGINT NOT NULL,
    program_id  BIGINT NOT NULL,
    kind        account_kind NOT NULL,
    customer_id BIGINT,
    -- For customer and held accounts: a cache of SUM(ledger_entries.amount), kept by the entry
    -- trigger and checked by the invariants. The program-wide accounts (issued, redeemed,
    -- expired) keep 0 here and are summed when reported: a cached total on them would make
    -- every posting of a program queue on one row.
    balance     BIGINT NOT NULL DEFAULT 0,
    FOREIGN KEY (program_id, portal_id) REFERENCES programs (id, portal_id) ON DELETE RESTRICT,
    FOREIGN KEY (customer_id, portal_id) REFERENCES customers (id, portal_id) ON DELETE RESTRICT,
    CONSTRAINT account_owner CHECK ((kind IN ('customer', 'held')) = (customer_id IS NOT NULL)),
    CONSTRAINT account_not_overdrawn CHECK (balance >= 0),
    CONSTRAINT account_system_not_cached CHECK (kind IN ('customer', 'held') OR balance = 0),
    UNIQUE NULLS NOT DISTINCT (program_id, kind, customer_id)
);

CREATE TYPE hold_status AS ENUM ('active', 'captured', 'released', 'expired');

CREATE TABLE holds (
    id          BIGSERIAL PRIMARY KEY,
    portal_id   BIGINT NOT NULL REFERENCES portals ON DELETE RESTRICT,
    account_id  BIGINT NOT NULL REFERENCES accounts ON DELETE RESTRICT,  -- the customer account
    amount      BIGINT NOT NULL CHECK (amount > 0),
    captured    BIGINT NOT NULL DEFAULT 0,
    status      hold_status NOT NULL DEFAULT 'active',
    reference   TEXT NOT NULL DEFAULT '',     -- e.g. "deal 123"
    expires_at  TIMESTAMPTZ NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    closed_at   TIMESTAMPTZ,
    CONSTRAINT hold_capture_bounded CHECK (captured >= 0 AND captured <= amount),
    CONSTRAINT hold_closed_when_not_active CHECK ((status = 'active') = (closed_at IS NULL)),
    CONSTRAINT hold_captured_only_when_captured CHECK (status = 'captured' OR captured = 0)
);

CREATE TYPE transaction_kind AS ENUM
    ('accrual', 'redemption', 'hold', 'capture', 'release', 'expiry', 'reversal');

CREATE TABLE ledger_transactions (
    id              BIGSERIAL PRIMARY KEY,
    portal_id       BIGINT NOT NULL REFERENCES portals ON DELETE RESTRICT,
    program_id      BIGINT NOT NULL,
    kind            transaction_kind NOT NULL,
    idempotency_key TEXT NOT NULL CHECK (idempotency_key <> '' AND length(idempotency_key) <= 200),
    input_hash      TEXT NOT NULL,
    reason          TEXT NOT NULL CHECK (reason <> ''),
    actor           TEXT NOT NULL CHECK (actor <> ''),
    source          TEXT NOT NULL DEFAULT '',
    reference       TEXT NOT NULL DEFAULT '',   -- what it belongs to, e.g. "deal:123"
    program_hash    TEXT,
    rule_id         TEXT,
    rule_inputs     JSONB NOT NULL DEFAULT '{}'::jsonb,
    hold_id         BIGINT REFERENCES holds ON DELETE RESTRICT,
    reverses_id     BIGINT UNIQUE REFERENCES ledger_transactions ON DELETE RESTRICT,
    effective_at    TIMESTAMPTZ NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    FOREIGN KEY (program_id, portal_id) REFERENCES programs (id, portal_id) ON DELETE RESTRICT,
    FOREIGN KEY (program_id, program_hash) REFERENCES program_versions (program_id, hash),
    CONSTRAINT idempotency_key_unique UNIQUE (portal_id, idempotency_key),
    CONSTRAINT reversal_names_its_original CHECK ((kind = 'reversal') = (reverses_id IS NOT NULL)),
    CONSTRAINT hold_moves_name_the_hold
        CHECK ((kind IN ('hold', 'capture', 'release')) = (hold_id IS NOT NULL))
);
CREATE INDEX ledger_transactions_hold ON ledger_transactions (hold_id) WHERE hold_id IS NOT NULL;
CREATE INDEX ledger_transactions_reference ON ledger_transactions (portal_id, reference)
    WHERE reference <> '';
CREATE INDEX holds_reference ON holds (portal_id, reference) WHERE reference <> '';

-- Points earned together, spent soonest-expiring first. ``remaining`` is kept by the entry
-- trigger: it is the sum of the entries on the lot's own account that name the lot.
CREATE TABLE lots (
    id              BIGSERIAL PRIMARY KEY,
    account_id      BIGINT NOT NULL REFERENCES accounts ON DELETE RESTRICT,
    transaction_id  BIGINT NOT NULL REFERENCES ledger_transactions ON DELETE RESTRICT,
    amount          BIGINT NOT NULL CHECK (amount > 0),
    remaining       BIGINT NOT NULL DEFAULT 0,
    available_at    TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ,
    CONSTRAINT lot_remaining_bounded CHECK (remaining >= 0 AND remaining <= amount)
);
CREATE INDEX lots_open ON lots (account_id, expires_at) WHERE remaining > 0;
CREATE INDEX lots_due ON lots (expires_at) WHERE remaining > 0 AND expires_at IS NOT NULL;

CREATE TABLE ledger_entries (
    id              BIGSERIAL PRIMARY KEY,
    transaction_id  BIGINT NOT NULL REFERENCES ledger_transactions ON DELETE RESTRICT,
    account_id      BIGINT NOT NULL REFERENCES accounts ON DELETE RESTRICT,
    lot_id          BIGINT REFERENCES lots ON DELETE RESTRICT,
    amount          BIGINT NOT NULL CONSTRAINT entry_not_zero CHECK (amount <> 0)
);
CREATE INDEX ledger_entries_transaction ON ledger_entries (transaction_id);
CREATE INDEX ledger_entries_account ON ledger_entries (account_id);
CREATE INDEX ledger_entries_lot ON ledger_entries (lot_id) WHERE lot_id IS NOT NULL;

-- 1. Posted rows are never changed or removed: corrections are reversals.
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger rows are immutable: % on % refused (post a reversal instead)',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END $$;

CREATE TRIGGER ledger_entries_immutable BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_transactions_immutable BEFORE UPDATE OR DELETE ON ledger_transactions
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_transactions_no_truncate BEFORE TRUNCATE ON ledger_transactions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- 2. Each entry moves the balance cache of its customer or held account and, on the lot's own
--    account, the lot's remainder. The CHECKs on accounts and lots then refuse any overdraw.
CREATE FUNCTION ledger_apply_entry() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    account_kind_ account_kind;
BEGIN
    UPDATE accounts SET balance = balance + NEW.amount
     WHERE id = NEW.account_id AND kind IN ('customer', 'held')
    RETURNING kind INTO account_kind_;
    IF account_kind_ = 'customer' THEN
        -- A customer's points always sit in a lot: their balance is the sum of their lots.
        IF NEW.lot_id IS NULL THEN
            RAISE EXCEPTION 'entry on customer account % names no lot', NEW.account_id
                USING ERRCODE = 'check_violation';
        END IF;
        UPDATE lots SET remaining = remaining + NEW.amount
         WHERE id = NEW.lot_id AND account_id = NEW.account_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'lot % does not belong to account %', NEW.lot_id, NEW.account_id
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER ledger_entries_apply AFTER INSERT ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_apply_entry();

-- 3. Every transaction nets to zero, within one program. Checked at commit, so a writer may
--    insert legs in several statements; Kopilka inserts them in one.
CREATE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    total BIGINT;
    programs INT;
    tx_program BIGINT;
BEGIN
    SELECT COALESCE(SUM(e.amount), 0), COUNT(DISTINCT a.program_id), MIN(a.program_id)
      INTO total, programs, tx_program
      FROM ledger_entries e JOIN accounts a ON a.id = e.account_id
     WHERE e.transaction_id = NEW.transaction_id;
    IF total <> 0 THEN
        RAISE EXCEPTION 'ledger transaction % does not net to zero (off by %)',
            NEW.transaction_id, total USING ERRCODE = 'check_violation';
    END IF;
    IF programs > 1 OR tx_program <> (SELECT program_id FROM ledger_transactions
                                       WHERE id = NEW.transaction_id) THEN
        RAISE EXCEPTION 'ledger transaction % moves points across programs', NEW.transaction_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER ledger_entries_balanced AFTER INSERT ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();
"""

DROP = """
DROP TABLE ledger_entries, lots, ledger_transactions, holds, accounts, customers,
           program_versions, programs, portals CASCADE;
DROP FUNCTION ledger_refuse_change, ledger_apply_entry, ledger_check_balanced;
DROP TYPE transaction_kind, hold_status, account_kind;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DROP)
