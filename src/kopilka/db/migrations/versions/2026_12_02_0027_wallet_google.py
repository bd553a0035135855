"""Issue 19 (item 4): the customers' cards in Google Wallet.

* ``google_wallet_classes``: the loyalty class of a portal's program (its id on Google, and a
  hash of the body Google has, so that a changed look is sent again).
* ``google_wallet_objects``: a customer's loyalty object. ``version`` is moved by the deferred
  trigger below in the very transaction that posts a ledger change of the customer (as
  ``notification_events`` are written); ``synced_version`` is what Google shows. The update job
  sends a card ``google_wallet_settle_seconds`` after its first unsent change (``dirty_since``):
  many ledger changes, one PATCH, never inside a ledger transaction. A card blocked or replaced
  (``cards``) moves ``version`` too.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-02
"""

from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

SCHEMA = r"""
CREATE TABLE google_wallet_classes (
    portal_id   BIGINT PRIMARY KEY REFERENCES portals ON DELETE RESTRICT,
    class_id    TEXT NOT NULL UNIQUE CHECK (class_id ~ '^[0-9]+\.[A-Za-z0-9._-]+$'),
    body_hash   TEXT CHECK (body_hash ~ '^[0-9a-f]{64}$'),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ
);

CREATE TABLE google_wallet_objects (
    portal_id       BIGINT NOT NULL REFERENCES google_wallet_classes ON DELETE RESTRICT,
    customer_id     BIGINT NOT NULL,
    object_id       TEXT NOT NULL UNIQUE CHECK (object_id ~ '^[0-9]+\.[A-Za-z0-9._-]+$'),
    version         BIGINT NOT NULL DEFAULT 1 CHECK (version >= 1),
    synced_version  BIGINT NOT NULL DEFAULT 0 CHECK (synced_version >= 0),
    dirty_since     TIMESTAMPTZ,
    notified_at     TIMESTAMPTZ[] NOT NULL DEFAULT '{}'
                    CHECK (cardinality(notified_at) <= 3),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    retry_at        TIMESTAMPTZ,
    last_error      TEXT CHECK (length(last_error) <= 500),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    patched_at      TIMESTAMPTZ,
    PRIMARY KEY (portal_id, customer_id),
    FOREIGN KEY (customer_id, portal_id) REFERENCES customers (id, portal_id) ON DELETE RESTRICT,
    CONSTRAINT synced_not_ahead CHECK (synced_version <= version),
    -- made on Google (synced at least once) before it is waited for as changed
    CONSTRAINT dirty_when_behind CHECK (
        synced_version = 0 OR (synced_version < version) = (dirty_since IS NOT NULL))
);
CREATE INDEX google_wallet_objects_due ON google_wallet_objects (portal_id, dirty_since)
    WHERE dirty_since IS NOT NULL;

CREATE FUNCTION google_wallet_card_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE google_wallet_objects o
       SET version = o.version + 1,
           dirty_since = CASE WHEN o.synced_version = 0 THEN o.dirty_since
                              ELSE coalesce(o.dirty_since, now()) END
     WHERE o.portal_id = NEW.portal_id
       AND o.customer_id IN (
           SELECT a.customer_id
             FROM ledger_entries e JOIN accounts a ON a.id = e.account_id
            WHERE e.transaction_id = NEW.id AND a.customer_id IS NOT NULL);
    RETURN NULL;
END $$;

-- Deferred to commit: the transaction's entries are written after its row.
CREATE CONSTRAINT TRIGGER ledger_transactions_google_wallet
    AFTER INSERT ON ledger_transactions DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION google_wallet_card_changed();

-- A card issued, blocked or replaced changes the Google card too (its barcode, its state).
CREATE FUNCTION google_wallet_plastic_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE google_wallet_objects o
       SET version = o.version + 1,
           dirty_since = CASE WHEN o.synced_version = 0 THEN o.dirty_since
                              ELSE coalesce(o.dirty_since, now()) END
     WHERE o.portal_id = NEW.portal_id AND o.customer_id = NEW.customer_id;
    RETURN NULL;
END $$;

CREATE TRIGGER cards_google_wallet
    AFTER INSERT OR UPDATE OF status, number ON cards
    FOR EACH ROW EXECUTE FUNCTION google_wallet_plastic_changed();
"""

DROP = r"""
DROP TRIGGER cards_google_wallet ON cards;
DROP FUNCTION google_wallet_plastic_changed();
DROP TRIGGER ledger_transactions_google_wallet ON ledger_transactions;
DROP FUNCTION google_wallet_card_changed();
DROP TABLE google_wallet_objects;
DROP TABLE google_wallet_classes;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DROP)
