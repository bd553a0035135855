"""Issue 16 (operator surfaces): each portal's connection health, shared by every process.

One row per portal: when a Bitrix24 call last succeeded, and when one last failed and with what
error class (``B24InvalidCredentials``, ``B24TransportError``…). The worker makes the calls and
the web app reports them (``/healthz``, ``/metrics``), often in another process: so the state is
kept here, written when it changes (and a success at most every half minute), not per call.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

SCHEMA = r"""
CREATE TABLE b24_portal_health (
    portal_id        BIGINT PRIMARY KEY REFERENCES portals (id) ON DELETE CASCADE,
    last_ok_at       TIMESTAMPTZ,
    last_error_at    TIMESTAMPTZ,
    last_error_class TEXT CHECK (last_error_class <> '')
);
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("DROP TABLE b24_portal_health")
