"""Issue 15, items 7 and 11: what the offers list's elements asked for when their deal was last
settled (the targeted poll compares the portal's elements with it), and notification events for
a reversed accrual (a customer told of points that were then taken back gets a correction).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
CREATE TABLE b24_offer_inputs (
    portal_id  BIGINT NOT NULL REFERENCES portals ON DELETE RESTRICT,
    deal_id    BIGINT NOT NULL,
    digest     TEXT NOT NULL,
    seen_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (portal_id, deal_id)
);

ALTER TABLE notification_events DROP CONSTRAINT notification_events_kind_check;
ALTER TABLE notification_events ADD CONSTRAINT notification_events_kind_check
    CHECK (kind IN ('accrual', 'redemption', 'reversal'));

-- A reversal tells only when it takes back an accrual (a released hold or a refund is news
-- of another kind, told elsewhere).
CREATE OR REPLACE FUNCTION notification_event_for_transaction() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.kind = 'reversal' AND NOT EXISTS (
        SELECT 1 FROM ledger_transactions t WHERE t.id = NEW.reverses_id AND t.kind = 'accrual'
    ) THEN
        RETURN NULL;
    END IF;
    INSERT INTO notification_events
        (portal_id, kind, transaction_id, customer_id, amount, reference)
    SELECT NEW.portal_id,
           CASE NEW.kind WHEN 'accrual' THEN 'accrual' WHEN 'reversal' THEN 'reversal'
                ELSE 'redemption' END,
           NEW.id, a.customer_id, abs(sum(e.amount)), NEW.reference
      FROM ledger_entries e JOIN accounts a ON a.id = e.account_id
     WHERE e.transaction_id = NEW.id AND a.kind IN ('customer', 'held')
     GROUP BY a.customer_id
    HAVING sum(e.amount) <> 0
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

DROP TRIGGER ledger_transactions_notify ON ledger_transactions;
CREATE CONSTRAINT TRIGGER ledger_transactions_notify
    AFTER INSERT ON ledger_transactions DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.kind IN ('accrual', 'redemption', 'capture', 'reversal'))
    EXECUTE FUNCTION notification_event_for_transaction();
""")


def downgrade() -> None:
    op.execute("""
DROP TRIGGER ledger_transactions_notify ON ledger_transactions;
CREATE CONSTRAINT TRIGGER ledger_transactions_notify
    AFTER INSERT ON ledger_transactions DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.kind IN ('accrual', 'redemption', 'capture'))
    EXECUTE FUNCTION notification_event_for_transaction();
CREATE OR REPLACE FUNCTION notification_event_for_transaction() RETURNS trigger
LANGUAGE plpgsql AS $$
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
DELETE FROM notifications WHERE event_id IN
    (SELECT id FROM notification_events WHERE kind = 'reversal');
DELETE FROM notification_events WHERE kind = 'reversal';
ALTER TABLE notification_events DROP CONSTRAINT notification_events_kind_check;
ALTER TABLE notification_events ADD CONSTRAINT notification_events_kind_check
    CHECK (kind IN ('accrual', 'redemption'));
DROP TABLE b24_offer_inputs;
""")
