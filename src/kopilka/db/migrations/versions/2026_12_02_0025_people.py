"""Issue 18 (the owner's cockpit), items 1–2: people and roles in the admin, the audit log, and
manual grants waiting for a second person's approval.

* ``admin_users``: named people with their own password (pbkdf2, or none for an owner who comes
  from Bitrix24 through the app), a per-person lockout (failures counted before hashing);
* ``admin_memberships``: which portals a person may open, in which role, with their own limit on
  manual grants (the ledger's ``Granter``);
* ``audit_log``: who did what, when and why — append-only, like the ledger (a trigger refuses
  UPDATE, DELETE and TRUNCATE);
* ``admin_grant_requests``: a grant above the approval threshold waits here; the database refuses
  an approval by its maker, and an approved request names the one ledger entry it posted;
* ``admin_handovers``: one-time, short-lived tokens handing a Bitrix24 portal admin over from the
  app's page to the admin (only a hash stored).

Revision ID: 0025
Revises: 0024 (the lead re-chains it after 0024)
Create Date: 2026-12-02
"""

from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

SCHEMA = r"""
CREATE TABLE admin_users (
    id              BIGSERIAL PRIMARY KEY,
    login           TEXT NOT NULL UNIQUE CHECK (login ~ '^[a-z0-9][a-z0-9._@:-]{1,99}$'),
    name            TEXT NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    password_hash   TEXT CHECK (password_hash ~ '^pbkdf2_sha256\$[0-9]+\$[0-9a-f]+\$[0-9a-f]{64}$'),
    b24_portal_id   BIGINT REFERENCES portals (id) ON DELETE CASCADE,
    b24_user_id     BIGINT CHECK (b24_user_id > 0),
    failed_logins   INTEGER NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    last_failed_at  TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    disabled_at     TIMESTAMPTZ,
    CHECK ((b24_portal_id IS NULL) = (b24_user_id IS NULL)),
    UNIQUE (b24_portal_id, b24_user_id)
);

CREATE TABLE admin_memberships (
    user_id       BIGINT NOT NULL REFERENCES admin_users (id) ON DELETE CASCADE,
    portal_id     BIGINT NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'manager', 'viewer')),
    grant_limit   BIGINT CHECK (grant_limit >= 0),
    grant_period  TEXT NOT NULL DEFAULT 'month'
                  CHECK (grant_period IN ('day', 'week', 'month', 'year')),
    PRIMARY KEY (user_id, portal_id)
);
CREATE INDEX admin_memberships_portal ON admin_memberships (portal_id, role);

ALTER TABLE web_sessions
    ADD COLUMN admin_user_id BIGINT REFERENCES admin_users (id) ON DELETE CASCADE,
    ADD CONSTRAINT web_sessions_admin_user CHECK (kind = 'admin' OR admin_user_id IS NULL);

CREATE TABLE audit_log (
    id         BIGSERIAL PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    portal_id  BIGINT REFERENCES portals (id) ON DELETE RESTRICT,
    actor      TEXT NOT NULL CHECK (actor <> '' AND length(actor) <= 300),
    action     TEXT NOT NULL CHECK (action ~ '^[a-z0-9_]+(\.[a-z0-9_]+)*$'),
    subject    TEXT NOT NULL DEFAULT '' CHECK (length(subject) <= 300),
    details    JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(details) = 'object'),
    reason     TEXT NOT NULL DEFAULT '' CHECK (length(reason) <= 2000)
);
CREATE INDEX audit_log_portal_at ON audit_log (portal_id, at DESC, id DESC);
CREATE INDEX audit_log_actor ON audit_log (actor, at DESC);

CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE TRIGGER audit_log_immutable BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

CREATE TABLE admin_grant_requests (
    id              BIGSERIAL PRIMARY KEY,
    portal_id       BIGINT NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    customer_id     BIGINT NOT NULL,
    reason          TEXT NOT NULL CHECK (reason <> ''),
    amount          BIGINT NOT NULL CHECK (amount > 0),
    comment         TEXT NOT NULL DEFAULT '' CHECK (length(comment) <= 1000),
    requested_by    BIGINT NOT NULL REFERENCES admin_users (id),
    requested_at    TIMESTAMPTZ NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'approved', 'rejected')),
    decided_by      BIGINT REFERENCES admin_users (id),
    decided_at      TIMESTAMPTZ,
    transaction_id  BIGINT UNIQUE REFERENCES ledger_transactions (id),
    request_key     TEXT NOT NULL CHECK (length(request_key) BETWEEN 1 AND 200),
    CONSTRAINT admin_grant_requests_key_unique UNIQUE (request_key),
    FOREIGN KEY (customer_id, portal_id) REFERENCES customers (id, portal_id),
    CHECK (decided_by <> requested_by),
    CHECK ((status = 'pending') = (decided_by IS NULL AND decided_at IS NULL)),
    CHECK ((status = 'approved') = (transaction_id IS NOT NULL))
);
CREATE INDEX admin_grant_requests_pending ON admin_grant_requests (portal_id)
    WHERE status = 'pending';

CREATE TABLE admin_handovers (
    id           BIGSERIAL PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    portal_id    BIGINT NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    b24_user_id  BIGINT NOT NULL CHECK (b24_user_id > 0),
    user_name    TEXT NOT NULL DEFAULT '' CHECK (length(user_name) <= 200),
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL CHECK (expires_at > created_at),
    used_at      TIMESTAMPTZ
);
"""

DROP = r"""
DROP TABLE admin_handovers;
DROP TABLE admin_grant_requests;
DROP TABLE audit_log;
DROP FUNCTION audit_refuse_change();
ALTER TABLE web_sessions DROP CONSTRAINT web_sessions_admin_user;
ALTER TABLE web_sessions DROP COLUMN admin_user_id;
DROP TABLE admin_memberships;
DROP TABLE admin_users;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DROP)
