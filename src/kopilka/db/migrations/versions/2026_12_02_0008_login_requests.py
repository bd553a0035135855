"""Issue 12 (cabinet/admin hardening): the record of login code requests, for the caps.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SCHEMA = r"""
-- Every request for a login code, whether the phone is a customer's or not (kopilka.cabinet.codes
-- caps them per phone, per client address and in total). Only a digest of the phone is kept; rows
-- older than twice the lockout window are deleted by the next request.
CREATE TABLE login_requests (
    id          BIGSERIAL PRIMARY KEY,
    portal_id   BIGINT NOT NULL REFERENCES portals ON DELETE RESTRICT,
    phone_hash  TEXT NOT NULL CHECK (phone_hash ~ '^[0-9a-f]{64}$'),
    addr        TEXT NOT NULL,
    at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX login_requests_phone ON login_requests (portal_id, phone_hash, at);
CREATE INDEX login_requests_addr ON login_requests (portal_id, addr, at);
CREATE INDEX login_requests_at ON login_requests (at);
"""

DROP = r"""
DROP TABLE login_requests;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DROP)
