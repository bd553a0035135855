"""Issue 6 — customer cabinet, public API keys, POS orders, admin.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SCHEMA = r"""
-- Public API keys (kopilka.api.keys): a portal each, scopes, only the SHA-256 of the key kept.
CREATE TABLE api_keys (
    id          BIGSERIAL PRIMARY KEY,
    portal_id   BIGINT NOT NULL REFERENCES portals ON DELETE RESTRICT,
    name        TEXT NOT NULL CHECK (name <> ''),
    prefix      TEXT NOT NULL UNIQUE CHECK (prefix ~ '^[0-9a-f]{8}$'),
    key_hash    TEXT NOT NULL CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    scopes      TEXT[] NOT NULL CHECK (cardinality(scopes) > 0),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at  TIMESTAMPTZ
);
"""

DROP = r"""
DROP TABLE api_keys;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DROP)
