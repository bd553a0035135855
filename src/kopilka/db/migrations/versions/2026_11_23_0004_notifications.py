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
"""

DROP = r"""
DROP TABLE cards;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DROP)
