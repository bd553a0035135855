"""Issue 4: levels, sections, pipelines, totals, birthday window, manual bonuses, multi-contact
deals.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMA = r"""
-- The catalog sections a won deal was counted with (product id -> section id): while the deal
-- stays won, moving a product to another section later does not change its points.
ALTER TABLE b24_deals ADD COLUMN won_sections JSONB;

-- Each contact's share of each WON deal, as the program splits the deal's sum (kopecks, before
-- points). The one source of customers' histories (levels, R-04) and of yearly totals (R-16);
-- kept by the deal sync in the same transaction as the deal's ledger, so they cannot disagree.
CREATE TABLE b24_deal_shares (
    portal_id    BIGINT NOT NULL,
    deal_id      BIGINT NOT NULL,
    contact_id   BIGINT NOT NULL,
    category_id  BIGINT NOT NULL,
    closed_at    TIMESTAMPTZ NOT NULL,
    amount       BIGINT NOT NULL CHECK (amount >= 0),
    PRIMARY KEY (portal_id, deal_id, contact_id),
    FOREIGN KEY (portal_id, deal_id) REFERENCES b24_deals (portal_id, deal_id) ON DELETE CASCADE
);
CREATE INDEX b24_deal_shares_contact ON b24_deal_shares (portal_id, contact_id, closed_at);

-- Products as the catalog describes them: the section decides eligibility (R-05), the code and
-- properties feed the data transfer into deals (R-15). Refreshed when a product changes.
CREATE TABLE b24_products (
    portal_id    BIGINT NOT NULL REFERENCES portals ON DELETE RESTRICT,
    product_id   BIGINT NOT NULL,
    section_id   BIGINT,
    name         TEXT NOT NULL DEFAULT '',
    code         TEXT,
    properties   JSONB NOT NULL DEFAULT '{}'::jsonb,   -- PROPERTY_<id/code> -> plain value
    fetched_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    stale        BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (portal_id, product_id)
);

-- What Kopilka last showed on a contact: a level change is explained once, when it happens.
CREATE TABLE b24_contact_state (
    portal_id    BIGINT NOT NULL REFERENCES portals ON DELETE RESTRICT,
    contact_id   BIGINT NOT NULL,
    level_id     TEXT,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (portal_id, contact_id)
);
"""

DROP = r"""
DROP TABLE b24_contact_state;
DROP TABLE b24_products;
DROP TABLE b24_deal_shares;
ALTER TABLE b24_deals DROP COLUMN won_sections;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DROP)
