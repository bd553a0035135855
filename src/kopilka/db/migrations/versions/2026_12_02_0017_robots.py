"""Issue 17, item 6: robots and business-process activities — the calls Bitrix24 makes to them.

One row per call the portal's queue server posted to ``/b24/robot``: the call is recorded and its
job deferred in one transaction, and the handler answers at once; the job does the work and
answers the portal with ``bizproc.event.send``. The ``event_token`` is a capability (whoever holds
it may answer the robot), so it is stored encrypted, and a SHA-256 of it, unique per portal,
makes the same call posted twice one call (the ledger's idempotency key is derived from it).

``state``: ``pending`` (to do, or done and not yet answered), ``answered`` (the portal took the
answer), ``unanswered`` (the portal refused it: it no longer waits), ``done`` (the portal waits
for no answer: ``use_subscription=N``). ``result`` is decided once (the return values and the
log message) and sent again as it is when sending is retried.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

SCHEMA = r"""
CREATE TABLE b24_robot_calls (
    id           BIGSERIAL PRIMARY KEY,
    portal_id    BIGINT NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    token_hash   BYTEA NOT NULL CHECK (octet_length(token_hash) = 32),
    event_token  TEXT NOT NULL CHECK (event_token ~ '^enc:v[0-9]+:'),
    code         TEXT NOT NULL CHECK (code ~ '^[a-zA-Z0-9._-]{1,64}$'),
    document     TEXT NOT NULL CHECK (document ~ '^[A-Z][A-Z0-9_]{0,39}_[0-9]{1,19}$'),
    user_id      BIGINT CHECK (user_id > 0),
    properties   JSONB NOT NULL CHECK (jsonb_typeof(properties) = 'object'),
    subscribed   BOOLEAN NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'answered', 'unanswered', 'done')),
    result       JSONB CHECK (result IS NULL OR jsonb_typeof(result) = 'object'),
    error        TEXT CHECK (error <> ''),
    attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    deliveries   INTEGER NOT NULL DEFAULT 1 CHECK (deliveries >= 1),
    received_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at  TIMESTAMPTZ,
    UNIQUE (portal_id, token_hash),
    CHECK ((state = 'pending') = (finished_at IS NULL)),
    CHECK (state = 'pending' OR result IS NOT NULL),
    CHECK (state <> 'answered' OR subscribed),
    CHECK (state <> 'done' OR NOT subscribed)
);
CREATE INDEX b24_robot_calls_pending ON b24_robot_calls (portal_id) WHERE state = 'pending';
COMMENT ON TABLE b24_robot_calls IS
    'event_token is Fernet ciphertext (kopilka.db.crypto, docs/security.md)';
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("DROP TABLE b24_robot_calls")
