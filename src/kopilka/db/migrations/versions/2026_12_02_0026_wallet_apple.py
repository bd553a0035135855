"""Issue 19 (items 1-3): Apple Wallet cards, the devices that hold them, their pushes.

* ``wallet_apple_passes``: one pass per customer; the serial is random, the authentication token
  (which the pass carries and the device sends back) is stored encrypted; ``version`` (a sequence)
  is the tag of ``passesUpdatedSince``, ``updated_at`` the ``Last-Modified`` (whole seconds,
  strictly increasing per pass, so that two changes in one second are never one ``304``).
* ``wallet_apple_links``: the links sent by SMS or e-mail (hashed, expiring).
* ``wallet_apple_devices`` / ``wallet_apple_registrations``: the PassKit web service's records.
* ``wallet_apple_pushes``: the APNs outbox, at most one pending push per device (the coalescing:
  any number of ledger changes before it goes out are that one push).

The deferred trigger on ``ledger_transactions`` marks the customers' passes changed and queues a
push per registered device, in the ledger's own transaction; the push itself is sent by a job.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-02
"""

from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

SCHEMA = r"""
CREATE SEQUENCE wallet_apple_pass_version;

CREATE TABLE wallet_apple_passes (
    id           BIGSERIAL PRIMARY KEY,
    portal_id    BIGINT NOT NULL REFERENCES portals ON DELETE RESTRICT,
    customer_id  BIGINT NOT NULL,
    serial       TEXT NOT NULL UNIQUE CHECK (serial ~ '^[A-Za-z0-9_-]{20,64}$'),
    auth_token   TEXT NOT NULL CHECK (auth_token LIKE 'enc:%'),
    version      BIGINT NOT NULL DEFAULT nextval('wallet_apple_pass_version'),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT date_trunc('second', now()),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    FOREIGN KEY (customer_id, portal_id) REFERENCES customers (id, portal_id) ON DELETE RESTRICT,
    UNIQUE (portal_id, customer_id),
    CHECK (updated_at = date_trunc('second', updated_at))
);

CREATE TABLE wallet_apple_links (
    token_hash   BYTEA PRIMARY KEY CHECK (length(token_hash) = 32),  -- sha256 of the token
    pass_id      BIGINT NOT NULL REFERENCES wallet_apple_passes ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ NOT NULL,
    CHECK (expires_at > created_at)
);

CREATE TABLE wallet_apple_devices (
    id           BIGSERIAL PRIMARY KEY,
    library_id   TEXT NOT NULL UNIQUE CHECK (library_id ~ '^[A-Za-z0-9._-]{1,128}$'),
    push_token   TEXT NOT NULL CHECK (push_token ~ '^[0-9a-fA-F]{16,200}$'),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE wallet_apple_registrations (
    device_id    BIGINT NOT NULL REFERENCES wallet_apple_devices ON DELETE CASCADE,
    pass_id      BIGINT NOT NULL REFERENCES wallet_apple_passes ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, pass_id)
);
CREATE INDEX wallet_apple_registrations_pass ON wallet_apple_registrations (pass_id);

CREATE TABLE wallet_apple_pushes (
    id           BIGSERIAL PRIMARY KEY,
    portal_id    BIGINT NOT NULL REFERENCES portals ON DELETE RESTRICT,
    device_id    BIGINT REFERENCES wallet_apple_devices ON DELETE SET NULL,
    push_token   TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'dropped')),
    attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    not_before   TIMESTAMPTZ NOT NULL DEFAULT now(),  -- pending: not before; sending: lease
    sent_at      TIMESTAMPTZ,
    last_error   TEXT CHECK (length(last_error) <= 500),
    CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);
CREATE UNIQUE INDEX wallet_apple_pushes_one_pending ON wallet_apple_pushes (device_id)
    WHERE status = 'pending';
CREATE INDEX wallet_apple_pushes_due ON wallet_apple_pushes (not_before)
    WHERE status IN ('pending', 'sending');

-- A pass changed: a new version and a Last-Modified a whole second past the last one.
CREATE FUNCTION wallet_apple_touch(pass_ids BIGINT[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE wallet_apple_passes
       SET version = nextval('wallet_apple_pass_version'),
           updated_at = greatest(date_trunc('second', clock_timestamp()) + interval '1 second',
                                 updated_at + interval '1 second')
     WHERE id = ANY (pass_ids);
    INSERT INTO wallet_apple_pushes (portal_id, device_id, push_token)
    SELECT DISTINCT ON (d.id) p.portal_id, d.id, d.push_token
      FROM wallet_apple_registrations r
      JOIN wallet_apple_devices d ON d.id = r.device_id
      JOIN wallet_apple_passes p ON p.id = r.pass_id
     WHERE r.pass_id = ANY (pass_ids)
    ON CONFLICT (device_id) WHERE status = 'pending' DO NOTHING;
END $$;

CREATE FUNCTION wallet_apple_for_transaction() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM wallet_apple_touch(array_agg(p.id))
       FROM wallet_apple_passes p
      WHERE p.portal_id = NEW.portal_id
        AND p.customer_id IN (
            SELECT a.customer_id FROM ledger_entries e JOIN accounts a ON a.id = e.account_id
             WHERE e.transaction_id = NEW.id AND a.customer_id IS NOT NULL)
     HAVING count(*) > 0;
    RETURN NULL;
END $$;

-- Deferred to commit, like the notifications' trigger: the entries follow the transaction's row.
CREATE CONSTRAINT TRIGGER ledger_transactions_wallet_apple
    AFTER INSERT ON ledger_transactions DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION wallet_apple_for_transaction();
"""

DOWNGRADE = r"""
DROP TRIGGER ledger_transactions_wallet_apple ON ledger_transactions;
DROP FUNCTION wallet_apple_for_transaction();
DROP FUNCTION wallet_apple_touch(BIGINT[]);
DROP TABLE wallet_apple_pushes;
DROP TABLE wallet_apple_registrations;
DROP TABLE wallet_apple_devices;
DROP TABLE wallet_apple_links;
DROP TABLE wallet_apple_passes;
DROP SEQUENCE wallet_apple_pass_version;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DOWNGRADE)
