"""Issue 15 (seeds 001 and 002): the catalog's section tree per portal, and the dates a won
deal's shares are totalled by.

``b24_catalog_sections`` keeps each portal's section tree (section id -> parent id) read once
from ``crm.productsection.list``: a product in a subsection of an eligible section counts as that
section. ``stale`` is set by the section events; a tree older than a day is read again.

``b24_deal_shares.dates`` holds the deal's date fields a totals rule groups by (``year_of``),
e.g. ``{"UF_CRM_TRIP_START": "2027-03-12"}``: the trip year rather than the win year.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE b24_catalog_sections (
            portal_id BIGINT PRIMARY KEY REFERENCES portals ON DELETE RESTRICT,
            parents JSONB NOT NULL,
            fetched_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            stale BOOLEAN NOT NULL DEFAULT false
        )
        """
    )
    op.execute("ALTER TABLE b24_deal_shares ADD COLUMN dates JSONB NOT NULL DEFAULT '{}'")


def downgrade() -> None:
    op.execute("ALTER TABLE b24_deal_shares DROP COLUMN dates")
    op.execute("DROP TABLE b24_catalog_sections")
