"""Issue 21 (item 3): a backfill that continues where it stopped.

``b24_sync_state.backfill_started_at``: when the portal's running ``sync --all`` began (the
database's clock), cleared when it finishes. A backfill that finds it set was interrupted: it
keeps that moment and skips the deals already synced since (``b24_deals.synced_at``).

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-02
"""

from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE b24_sync_state ADD COLUMN backfill_started_at TIMESTAMPTZ")


def downgrade() -> None:
    op.execute("ALTER TABLE b24_sync_state DROP COLUMN backfill_started_at")
