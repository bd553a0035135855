"""Issue 17 (inside Bitrix24), R-11 "who may grant how much": limits on manual grants per person.

A portal's owner (its administrator) sets how many points a manager may grant by hand per period,
in all reasons together: for every manager (``role = 'manager'``) or for one Bitrix24 user (which
overrides the role's). The ledger counts what a person granted from the grants themselves (their
``rule_inputs.granter``), so the index below serves that count.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

SCHEMA = r"""
CREATE TABLE b24_grant_limits (
    id          BIGSERIAL PRIMARY KEY,
    portal_id   BIGINT NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    role        TEXT CHECK (role IN ('manager')),
    user_id     BIGINT CHECK (user_id > 0),
    user_name   TEXT NOT NULL DEFAULT '' CHECK (length(user_name) <= 200),
    max_total   BIGINT NOT NULL CHECK (max_total >= 0),
    period      TEXT NOT NULL CHECK (period IN ('day', 'week', 'month', 'year')),
    updated_by  TEXT NOT NULL CHECK (updated_by <> ''),
    updated_at  TIMESTAMPTZ NOT NULL,
    CHECK ((role IS NULL) <> (user_id IS NULL))
);
CREATE UNIQUE INDEX b24_grant_limits_role ON b24_grant_limits (portal_id, role)
    WHERE role IS NOT NULL;
CREATE UNIQUE INDEX b24_grant_limits_user ON b24_grant_limits (portal_id, user_id)
    WHERE user_id IS NOT NULL;

CREATE INDEX ledger_transactions_by_granter
    ON ledger_transactions (portal_id, (rule_inputs ->> 'granter'), effective_at)
    WHERE kind = 'accrual' AND rule_inputs ? 'granter';
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("DROP INDEX ledger_transactions_by_granter")
    op.execute("DROP TABLE b24_grant_limits")
