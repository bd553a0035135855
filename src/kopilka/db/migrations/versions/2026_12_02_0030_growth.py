"""Issue 21 (item 4): reads that stay flat as a portal's data grows (bench/growth).

* ``b24_deals_contacts``: a GIN index on ``b24_deals.contact_ids``. A contact's deals (the
  cabinet's orders, the open deals judged again when a contact changes) were found by reading
  every deal of the portal (a sequential scan: 58 ms at 270 000 deals, growing with them); with
  the index, by the contact's own deals only.
* ``ledger_entries_account_transaction``: ``(account_id, transaction_id)``. A customer's newest
  history lines are picked from the index alone (no visit to every transaction of the history);
  it also serves every lookup by account that ``ledger_entries_account`` served, which it
  replaces.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-02
"""

from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX b24_deals_contacts ON b24_deals USING gin (contact_ids)")
    op.execute(
        "CREATE INDEX ledger_entries_account_transaction "
        "ON ledger_entries (account_id, transaction_id)"
    )
    op.execute("DROP INDEX ledger_entries_account")


def downgrade() -> None:
    op.execute("CREATE INDEX ledger_entries_account ON ledger_entries (account_id)")
    op.execute("DROP INDEX ledger_entries_account_transaction")
    op.execute("DROP INDEX b24_deals_contacts")
