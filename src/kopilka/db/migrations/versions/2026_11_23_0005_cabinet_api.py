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

-- Idempotency of the public API's writes (kopilka.api.idempotency): the first successful answer
-- to a key is kept with the hash of its request; the same key and body replay it, the same key
-- with another body is refused.
CREATE TABLE api_idempotency (
    portal_id     BIGINT NOT NULL REFERENCES portals ON DELETE RESTRICT,
    key           TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    endpoint      TEXT NOT NULL CHECK (endpoint <> ''),
    request_hash  TEXT NOT NULL CHECK (request_hash ~ '^[0-9a-f]{64}$'),
    status        INT NOT NULL CHECK (status BETWEEN 200 AND 299),
    response      JSONB NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (portal_id, key)
);

-- Orders of cash desks and sites (kopilka.pos). Points move in the ledger under the
-- reference 'pos:<order_id>'; this row says where the order stands.
CREATE TABLE pos_orders (
    id            BIGSERIAL PRIMARY KEY,
    portal_id     BIGINT NOT NULL REFERENCES portals ON DELETE RESTRICT,
    program_id    BIGINT NOT NULL REFERENCES programs ON DELETE RESTRICT,
    order_id      TEXT NOT NULL CHECK (length(order_id) BETWEEN 1 AND 100),
    customer_id   BIGINT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('held', 'committed', 'cancelled', 'refunded')),
    pipeline_id   BIGINT NOT NULL DEFAULT 0,
    total         BIGINT NOT NULL CHECK (total >= 0),
    points_paid   BIGINT NOT NULL DEFAULT 0 CHECK (points_paid >= 0),
    hold_id       BIGINT REFERENCES holds ON DELETE RESTRICT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    committed_at  TIMESTAMPTZ,
    closed_at     TIMESTAMPTZ,
    FOREIGN KEY (customer_id, portal_id) REFERENCES customers (id, portal_id) ON DELETE RESTRICT,
    UNIQUE (portal_id, order_id),
    CHECK (status IN ('held', 'cancelled') OR committed_at IS NOT NULL)
);
CREATE INDEX pos_orders_customer ON pos_orders (customer_id, created_at DESC);

CREATE TABLE pos_order_lines (
    order_pk     BIGINT NOT NULL REFERENCES pos_orders ON DELETE RESTRICT,
    line_id      TEXT NOT NULL CHECK (length(line_id) BETWEEN 1 AND 100),
    position     INT NOT NULL CHECK (position >= 0),
    name         TEXT NOT NULL,
    price        BIGINT NOT NULL CHECK (price >= 0),
    quantity     INT NOT NULL CHECK (quantity > 0),
    section_id   BIGINT,
    refunded_at  TIMESTAMPTZ,
    PRIMARY KEY (order_pk, line_id)
);

-- The cabinet's login (kopilka.cabinet.login): one-time codes, kept as salted hashes, single
-- use, short-lived; failed attempts per phone and per client address drive the lockout.
CREATE TABLE login_codes (
    id          BIGSERIAL PRIMARY KEY,
    portal_id   BIGINT NOT NULL REFERENCES portals ON DELETE RESTRICT,
    phone       TEXT NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    code_hash   TEXT NOT NULL CHECK (code_hash ~ '^[0-9a-f]{64}$'),
    salt        TEXT NOT NULL CHECK (salt <> ''),
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL CHECK (expires_at > created_at),
    used_at     TIMESTAMPTZ
);
CREATE INDEX login_codes_phone ON login_codes (portal_id, phone, created_at DESC);

CREATE TABLE login_failures (
    id          BIGSERIAL PRIMARY KEY,
    portal_id   BIGINT NOT NULL REFERENCES portals ON DELETE RESTRICT,
    subject     TEXT NOT NULL CHECK (subject ~ '^(phone|addr):.+'),
    at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX login_failures_subject ON login_failures (portal_id, subject, at);

-- Browser sessions of customers (cabinet) and administrators; only the token's hash is kept.
CREATE TABLE web_sessions (
    id           BIGSERIAL PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    kind         TEXT NOT NULL CHECK (kind IN ('customer', 'admin')),
    portal_id    BIGINT NOT NULL REFERENCES portals ON DELETE RESTRICT,
    customer_id  BIGINT,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL CHECK (expires_at > created_at),
    ended_at     TIMESTAMPTZ,
    FOREIGN KEY (customer_id, portal_id) REFERENCES customers (id, portal_id) ON DELETE RESTRICT,
    CHECK ((kind = 'customer') = (customer_id IS NOT NULL))
);
"""

DROP = r"""
DROP TABLE web_sessions;
DROP TABLE login_failures;
DROP TABLE login_codes;
DROP TABLE pos_order_lines;
DROP TABLE pos_orders;
DROP TABLE api_idempotency;
DROP TABLE api_keys;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DROP)
