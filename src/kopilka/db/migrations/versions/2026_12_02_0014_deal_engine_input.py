"""Issue 14 (what-if replay): ``b24_deals.engine_input``, the deal as the engine saw it when it
was last settled (``kopilka.domain.deal_codec``: rows with their sections and properties,
contacts with their fields, the deal's fields), so that a candidate program can be replayed over
the recorded won deals without asking the portal.

Deals settled before this revision have none (NULL): ``kopilka program whatif`` counts them as
not replayable, and ``kopilka sync --all`` fills them in.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE b24_deals ADD COLUMN engine_input JSONB")


def downgrade() -> None:
    op.execute("ALTER TABLE b24_deals DROP COLUMN engine_input")
