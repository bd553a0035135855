"""Issue 4 (daily jobs): the record of each portal's daily runs.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SCHEMA = r"""
-- One row per portal, daily job and local day of the portal's program (kopilka.bitrix24.daily):
-- the hourly tick runs a daily job only when its day has no row yet, so a job runs once a day in
-- the program's time zone, and late (once) when the service was down at midnight.
CREATE TABLE b24_daily_runs (
    portal_id    BIGINT NOT NULL REFERENCES portals ON DELETE RESTRICT,
    job          TEXT NOT NULL CHECK (job IN ('birthdays', 'totals')),
    day          DATE NOT NULL,
    finished_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    stats        JSONB NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (portal_id, job, day)
);
"""

DROP = r"""
DROP TABLE b24_daily_runs;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DROP)
