"""Issue 17 (inside Bitrix24): who is looking at Kopilka's pages in the portal.

A Bitrix24 page framing Kopilka (a CRM card tab, the app page) posts the user's own access token
once; Kopilka proves it on the stored portal (``user.current``) and from then on the frame carries
a session of its own. Only a hash of the session token is kept (it is compared, never shown
again); a session names the portal, the Bitrix24 user and whether the portal calls them an
administrator, the page (placement and record) it was opened for, and ends when the user's token
would have.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

SCHEMA = r"""
CREATE TABLE b24_app_sessions (
    token_hash  BYTEA PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    portal_id   BIGINT NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    user_id     BIGINT NOT NULL CHECK (user_id > 0),
    user_name   TEXT NOT NULL CHECK (length(user_name) <= 200),
    is_admin    BOOLEAN NOT NULL,
    lang        TEXT NOT NULL CHECK (lang IN ('ru', 'en')),
    -- the page it was opened for: a CRM tab's session serves that record only
    placement   TEXT NOT NULL CHECK (placement ~ '^[A-Z0-9_]{1,64}$'),
    entity_id   BIGINT CHECK (entity_id > 0),
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL CHECK (expires_at > created_at)
);
CREATE INDEX b24_app_sessions_expiry ON b24_app_sessions (portal_id, expires_at);
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("DROP TABLE b24_app_sessions")
