"""Issue 12 (security): which application an app-mode connection belongs to.

An install is proven against Bitrix24's OAuth server with this Kopilka's client id
(kopilka.bitrix24.install); the id is kept so that an install of another application can never
replace the connection. Rows installed before this revision keep NULL (their application token
still has to match).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE b24_connections ADD COLUMN client_id TEXT")


def downgrade() -> None:
    op.execute("ALTER TABLE b24_connections DROP COLUMN client_id")
