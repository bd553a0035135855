"""The Bitrix24 connector: portal connections, the shared rate limiter, sync state and outbox,
and procrastinate's job tables.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from importlib import resources

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = r"""
-- How Kopilka reaches a portal and how the portal proves its events. Secrets live here only.
CREATE TABLE b24_connections (
    portal_id         BIGINT PRIMARY KEY REFERENCES portals ON DELETE RESTRICT,
    mode              TEXT NOT NULL CHECK (mode IN ('webhook', 'app')),
    domain            TEXT NOT NULL DEFAULT '',
    webhook_url       TEXT,                -- incoming webhook base URL (mode webhook)
    client_endpoint   TEXT,                -- https://<domain>/rest/ (mode app)
    access_token      TEXT,
    refresh_token     TEXT,
    token_expires_at  TIMESTAMPTZ,
    token_version     BIGINT NOT NULL DEFAULT 0,
    application_token TEXT NOT NULL CHECK (application_token <> ''),
    program_id        BIGINT REFERENCES programs ON DELETE RESTRICT,
    field_map         JSONB NOT NULL DEFAULT '{}'::jsonb,   -- what provisioning created
    status            TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'uninstalled')),
    connected_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    provisioned_at    TIMESTAMPTZ,
    CHECK (mode <> 'webhook' OR webhook_url IS NOT NULL),
    CHECK (mode <> 'app' OR (client_endpoint IS NOT NULL AND refresh_token IS NOT NULL))
);

-- One GCRA row per portal, shared by every process (DESIGN D6). `tat` is the theoretical
-- arrival time of the next request; `paused_until` is set after a 503 from the portal.
CREATE TABLE b24_rate_limits (
    portal_id     BIGINT PRIMARY KEY REFERENCES portals ON DELETE RESTRICT,
    tat           TIMESTAMPTZ NOT NULL DEFAULT now(),
    paused_until  TIMESTAMPTZ NOT NULL DEFAULT '-infinity',
    granted       BIGINT NOT NULL DEFAULT 0,
    waited        BIGINT NOT NULL DEFAULT 0,
    wait_seconds  DOUBLE PRECISION NOT NULL DEFAULT 0,
    rejected      BIGINT NOT NULL DEFAULT 0
);

-- Deals that an event, a sweep or a backfill says may have changed (DESIGN D4): a hint, not a
-- fact. `version` grows with every hint, so a hint that arrives during a sync is not lost.
CREATE TABLE b24_dirty_deals (
    portal_id   BIGINT NOT NULL REFERENCES portals ON DELETE RESTRICT,
    deal_id     BIGINT NOT NULL CHECK (deal_id > 0),
    version     BIGINT NOT NULL DEFAULT 1,
    source      TEXT NOT NULL,
    hinted_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempts    INT NOT NULL DEFAULT 0,
    last_error  TEXT,
    PRIMARY KEY (portal_id, deal_id)
);

-- What Kopilka last saw of each deal: the input of levels and totals, and of the sweep.
CREATE TABLE b24_deals (
    portal_id     BIGINT NOT NULL REFERENCES portals ON DELETE RESTRICT,
    deal_id       BIGINT NOT NULL,
    category_id   BIGINT NOT NULL,
    stage_id      TEXT NOT NULL,
    semantic      TEXT NOT NULL CHECK (semantic IN ('P', 'S', 'F', 'D')),  -- D: deleted
    amount        BIGINT NOT NULL,               -- kopecks before points
    contact_ids   BIGINT[] NOT NULL DEFAULT '{}',
    closed_at     TIMESTAMPTZ,
    modified_at   TIMESTAMPTZ,
    -- points discount Kopilka put on the product rows, per row signature (kopecks per unit)
    applied_discount JSONB NOT NULL DEFAULT '{}'::jsonb,
    synced_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (portal_id, deal_id)
);

-- Writes to the portal, committed with the ledger change that causes them and sent by the sync
-- job in full batches. `key` coalesces idempotent writes (a contact's fields: the latest wins)
-- and names non-idempotent ones once (a timeline comment per ledger transaction).
CREATE TABLE b24_outbox (
    id          BIGSERIAL PRIMARY KEY,
    portal_id   BIGINT NOT NULL REFERENCES portals ON DELETE RESTRICT,
    key         TEXT NOT NULL,
    method      TEXT NOT NULL,
    params      JSONB NOT NULL,
    idempotent  BOOLEAN NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sent', 'failed', 'unknown')),
    attempts    INT NOT NULL DEFAULT 0,
    last_error  TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at     TIMESTAMPTZ,
    UNIQUE (portal_id, key)
);
CREATE INDEX b24_outbox_pending ON b24_outbox (portal_id, id) WHERE status = 'pending';

-- Sweep position per portal: deals modified since `swept_through` are re-checked.
CREATE TABLE b24_sync_state (
    portal_id      BIGINT PRIMARY KEY REFERENCES portals ON DELETE RESTRICT,
    swept_through  TIMESTAMPTZ,
    last_sweep_at  TIMESTAMPTZ,
    last_sync_at   TIMESTAMPTZ
);

-- Every drain of a portal's dirty deals: who ran it and when (operations, and the proof that
-- two workers never sync one portal at the same time).
CREATE TABLE b24_sync_runs (
    id           BIGSERIAL PRIMARY KEY,
    portal_id    BIGINT NOT NULL REFERENCES portals ON DELETE RESTRICT,
    worker       TEXT NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    finished_at  TIMESTAMPTZ,
    deals        INT NOT NULL DEFAULT 0,
    postings     INT NOT NULL DEFAULT 0,
    failed       INT NOT NULL DEFAULT 0
);
CREATE INDEX b24_sync_runs_portal ON b24_sync_runs (portal_id, started_at);

-- Events refused at the door (forged or unknown tokens): kept for the audit, never acted on.
CREATE TABLE b24_rejected_events (
    id           BIGSERIAL PRIMARY KEY,
    received_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    member_id    TEXT,
    event        TEXT,
    reason       TEXT NOT NULL,
    remote       TEXT
);
"""

DOWNGRADE = """
DROP TABLE b24_rejected_events, b24_sync_runs, b24_sync_state, b24_outbox, b24_deals,
    b24_dirty_deals, b24_rate_limits, b24_connections;
DROP TABLE procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs,
    procrastinate_workers CASCADE;
DROP TYPE procrastinate_job_to_defer_v1, procrastinate_job_event_type, procrastinate_job_status
    CASCADE;
"""


def upgrade() -> None:
    op.execute(SCHEMA)
    # procrastinate's schema at the version pinned in uv.lock; its later migrations will be added
    # as our own revisions when the pin moves.
    op.execute(resources.files("procrastinate.sql").joinpath("schema.sql").read_text())


def downgrade() -> None:
    # procrastinate's functions go with its types and tables (CASCADE).
    op.execute(DOWNGRADE)
    op.execute(
        "DO $$ DECLARE f regprocedure; BEGIN FOR f IN SELECT oid::regprocedure FROM pg_proc "
        "WHERE proname LIKE 'procrastinate\\_%' LOOP EXECUTE 'DROP FUNCTION ' || f || ' CASCADE'; "
        "END LOOP; END $$"
    )
