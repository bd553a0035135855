"""Issue 18 (the owner's reports): the program's transactions by the moment they count from.

The reports read a range of a program's ledger (``reports/queries.py``); without this index every
range reads every transaction of every program. It is what lets a month's report read a month
(bench/reports, docs/performance.md "Reports").

Revision ID: 0022
Revises: 0020 (the lead re-chains it at merge: 0021)
Create Date: 2026-12-02
"""

from alembic import op

revision = "0022"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ledger_transactions_effective "
        "ON ledger_transactions (program_id, effective_at)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ledger_transactions_effective")
