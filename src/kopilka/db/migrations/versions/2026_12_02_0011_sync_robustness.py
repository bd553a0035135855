"""Issue 15 (sync robustness): a deal that keeps failing waits its turn, and a portal that refuses
product rows read by a list of owners is remembered.

* ``b24_dirty_deals.retry_at``: a deal the portal would not show, or the ledger refused, is parked
  until then (backoff by ``attempts``); news about the deal (a new hint) clears it.
* ``b24_sync_state.rows_per_deal_at``: when the portal was found to refuse an array in
  ``crm.item.productrow.list``'s ``filter[=ownerId]``; from then on its product rows are read one
  command per deal. NULL: the list form works.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE b24_dirty_deals ADD COLUMN retry_at TIMESTAMPTZ")
    op.execute("ALTER TABLE b24_sync_state ADD COLUMN rows_per_deal_at TIMESTAMPTZ")


def downgrade() -> None:
    op.execute("ALTER TABLE b24_sync_state DROP COLUMN rows_per_deal_at")
    op.execute("ALTER TABLE b24_dirty_deals DROP COLUMN retry_at")
