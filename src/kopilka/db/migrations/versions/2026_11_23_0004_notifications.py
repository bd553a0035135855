"""Issue 5 — bonus cards, registrations, the notification outbox.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SCHEMA = r"""
-- Bonus cards (R-17). The number is the customer's phone in E.164 (kopilka.phones), so a number
-- is unique within a portal, and a customer holds at most one active card.
CREATE TABLE cards (
    id           BIGSERIAL PRIMARY KEY,
    portal_id    BIGINT NOT NULL REFERENCES portals ON DELETE RESTRICT,
    customer_id  BIGINT NOT NULL,
    number       TEXT NOT NULL CHECK (number ~ '^\+[1-9][0-9]{6,14}$'),
    status       TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'blocked')),
    issued_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    issued_by    TEXT NOT NULL CHECK (issued_by <> ''),  -- 'auto', 'registration', 'user:<id>'
    FOREIGN KEY (customer_id, portal_id) REFERENCES customers (id, portal_id) ON DELETE RESTRICT,
    UNIQUE (portal_id, number)
);
CREATE UNIQUE INDEX cards_one_active_per_customer ON cards (customer_id) WHERE status = 'active';

-- Contacts Bitrix24 told us about (ONCRMCONTACTADD/UPDATE): hints for the card job, like
-- b24_dirty_deals for deals. A hint is removed only if its version did not move meanwhile.
CREATE TABLE contact_hints (
    portal_id   BIGINT NOT NULL REFERENCES portals ON DELETE RESTRICT,
    contact_id  BIGINT NOT NULL CHECK (contact_id > 0),
    version     BIGINT NOT NULL DEFAULT 1,
    hinted_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (portal_id, contact_id)
);

-- What the ledger did that someone should hear about: one row per (transaction, customer),
-- written by the deferred trigger below in the very transaction that posts the change, and
-- expanded by the notify job into per-channel messages.
CREATE TABLE notification_events (
    id              BIGSERIAL PRIMARY KEY,
    portal_id       BIGINT NOT NULL REFERENCES portals ON DELETE RESTRICT,
    kind            TEXT NOT NULL CHECK (kind IN ('accrual', 'redemption')),
    transaction_id  BIGINT NOT NULL REFERENCES ledger_transactions ON DELETE RESTRICT,
    customer_id     BIGINT NOT NULL,
    amount          BIGINT NOT NULL CHECK (amount > 0),
    reference       TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    expanded_at     TIMESTAMPTZ,
    FOREIGN KEY (customer_id, portal_id) REFERENCES customers (id, portal_id) ON DELETE RESTRICT,
    UNIQUE (transaction_id, customer_id)
);
CREATE INDEX notification_events_new ON notification_events (portal_id, id)
    WHERE expanded_at IS NULL;

CREATE FUNCTION notification_event_for_transaction() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO notification_events
        (portal_id, kind, transaction_id, customer_id, amount, reference)
    SELECT NEW.portal_id,
           CASE WHEN NEW.kind = 'accrual' THEN 'accrual' ELSE 'redemption' END,
           NEW.id, a.customer_id, abs(sum(e.amount)), NEW.reference
      FROM ledger_entries e JOIN accounts a ON a.id = e.account_id
     WHERE e.transaction_id = NEW.id AND a.kind IN ('customer', 'held')
     GROUP BY a.customer_id
    HAVING sum(e.amount) <> 0
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

-- Deferred to commit: the transaction's entries are written after its row.
CREATE CONSTRAINT TRIGGER ledger_transactions_notify
    AFTER INSERT ON ledger_transactions DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.kind IN ('accrual', 'redemption', 'capture'))
    EXECUTE FUNCTION notification_event_for_transaction();

-- The outbox: one row per message and channel, unique by its key (an accrual's SMS, a
-- birthday reminder of a year, a registration's to-do), delivered at least once by the notify
-- job. ``sending`` with an expired lease means a worker died with the outcome unknown.
CREATE TABLE notifications (
    id            BIGSERIAL PRIMARY KEY,
    portal_id     BIGINT NOT NULL REFERENCES portals ON DELETE RESTRICT,
    key           TEXT NOT NULL CHECK (key <> '' AND length(key) <= 200),
    channel       TEXT NOT NULL
                  CHECK (channel IN ('sms', 'email', 'b24_chat', 'b24_timeline', 'b24_todo')),
    recipient     TEXT NOT NULL CHECK (recipient <> ''),
    subject       TEXT NOT NULL DEFAULT '',
    body          TEXT NOT NULL CHECK (body <> ''),
    params        JSONB NOT NULL DEFAULT '{}'::jsonb,
    customer_id   BIGINT,
    event_id      BIGINT REFERENCES notification_events ON DELETE RESTRICT,
    status        TEXT NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'skipped')),
    attempts      INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- attempts whose outcome stayed unknown (the worker died): a non-idempotent channel
    -- gets one more try, never two
    unknown       INTEGER NOT NULL DEFAULT 0 CHECK (unknown >= 0),
    not_before    TIMESTAMPTZ NOT NULL DEFAULT now(),
    lease_until   TIMESTAMPTZ,
    last_error    TEXT,
    provider_id   TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at       TIMESTAMPTZ,
    FOREIGN KEY (customer_id, portal_id) REFERENCES customers (id, portal_id) ON DELETE RESTRICT,
    UNIQUE (portal_id, key),
    CONSTRAINT sent_has_time CHECK ((status = 'sent') = (sent_at IS NOT NULL)),
    CONSTRAINT sending_has_lease CHECK ((status = 'sending') = (lease_until IS NOT NULL))
);
CREATE INDEX notifications_due ON notifications (portal_id, not_before)
    WHERE status IN ('pending', 'sending');

-- The customer's own "no messages, please" (the cabinet's switch); the program may also map a
-- contact field. Opted-out customers get nothing; their messages are recorded as skipped.
CREATE TABLE notification_optouts (
    portal_id    BIGINT NOT NULL,
    customer_id  BIGINT NOT NULL,
    source       TEXT NOT NULL CHECK (source <> ''),
    opted_out_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    FOREIGN KEY (customer_id, portal_id) REFERENCES customers (id, portal_id) ON DELETE RESTRICT,
    PRIMARY KEY (portal_id, customer_id)
);

-- Site registrations (R-18): idempotent by key (the Idempotency-Key header, else the phone).
CREATE TABLE registrations (
    id               BIGSERIAL PRIMARY KEY,
    portal_id        BIGINT NOT NULL REFERENCES portals ON DELETE RESTRICT,
    idempotency_key  TEXT NOT NULL CHECK (idempotency_key <> '' AND length(idempotency_key) <= 200),
    input_hash       TEXT NOT NULL,
    phone            TEXT NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    name             TEXT NOT NULL CHECK (name <> ''),
    last_name        TEXT NOT NULL DEFAULT '',
    email            TEXT NOT NULL,
    birth_date       DATE,
    consent_at       TIMESTAMPTZ NOT NULL,
    status           TEXT NOT NULL DEFAULT 'received'
                     CHECK (status IN ('received', 'done', 'failed')),
    contact_id       BIGINT,
    contact_created  BOOLEAN,
    last_error       TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    done_at          TIMESTAMPTZ,
    UNIQUE (portal_id, idempotency_key),
    CONSTRAINT done_names_contact CHECK (status <> 'done' OR contact_id IS NOT NULL)
);
"""

DROP = r"""
DROP TABLE registrations;
DROP TABLE notification_optouts;
DROP TABLE notifications;
DROP TRIGGER ledger_transactions_notify ON ledger_transactions;
DROP FUNCTION notification_event_for_transaction();
DROP TABLE notification_events;
DROP TABLE contact_hints;
DROP TABLE cards;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DROP)
