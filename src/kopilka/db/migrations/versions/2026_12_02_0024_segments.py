"""Issue 18 (items 4 and 6): the operator's everyday questions without SQL, segment mailings.

* A message the operator gave up on is ``cancelled`` (the outbox's own status, next to
  ``skipped``, which Kopilka decides itself); a failed one may be retried from the admin.
* ``job_failures``: procrastinate keeps a failed job's status, not its error; the worker records
  each failed attempt here (the task, the portal it was for, the error as logs show it: secrets
  redacted, bounded), so that the admin shows why a job failed.
* ``segment_exports``: each export of a mailing segment (the program file's ``mailing``) to a
  UniSender list or a CSV file: who asked, how many contacts, UniSender's answer;
  ``segment_list_members``: who a list was last given, so that leavers are taken out.

Revision ID: 0024
Revises: 0022
Create Date: 2026-12-02
"""

from alembic import op

revision = "0024"
down_revision = "0022"
branch_labels = None
depends_on = None

SCHEMA = r"""
ALTER TABLE notifications DROP CONSTRAINT notifications_status_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_status_check
    CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'skipped', 'cancelled'));

CREATE TABLE job_failures (
    id         BIGSERIAL PRIMARY KEY,
    job_id     BIGINT NOT NULL,
    task_name  TEXT NOT NULL CHECK (task_name <> '' AND length(task_name) <= 128),
    portal_id  BIGINT,
    attempt    INTEGER NOT NULL CHECK (attempt >= 0),
    error      TEXT NOT NULL CHECK (error <> '' AND length(error) <= 1000),
    failed_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX job_failures_newest ON job_failures (failed_at DESC);
CREATE INDEX job_failures_job ON job_failures (job_id);

CREATE TABLE segment_exports (
    id          BIGSERIAL PRIMARY KEY,
    portal_id   BIGINT NOT NULL REFERENCES portals ON DELETE RESTRICT,
    segment     TEXT NOT NULL CHECK (segment <> '' AND length(segment) <= 100),
    target      TEXT NOT NULL CHECK (target IN ('unisender', 'csv')),
    trigger     TEXT NOT NULL CHECK (trigger IN ('admin', 'cli', 'daily')),
    actor       TEXT NOT NULL CHECK (actor <> '' AND length(actor) <= 200),
    list_id     BIGINT CHECK (list_id > 0),
    status      TEXT NOT NULL CHECK (status IN ('done', 'failed')),
    contacts    INTEGER NOT NULL CHECK (contacts >= 0),
    inserted    INTEGER CHECK (inserted >= 0),
    updated     INTEGER CHECK (updated >= 0),
    invalid     INTEGER CHECK (invalid >= 0),
    deleted     INTEGER CHECK (deleted >= 0),
    error       TEXT CHECK (length(error) <= 1000),
    log         JSONB NOT NULL DEFAULT '[]'::jsonb,
    day         DATE NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT unisender_has_list CHECK ((target = 'unisender') = (list_id IS NOT NULL)),
    CONSTRAINT failed_says_why CHECK ((status = 'failed') = (error IS NOT NULL))
);
CREATE INDEX segment_exports_newest ON segment_exports (portal_id, started_at DESC);
-- the daily export runs once a day per segment (a second worker's run is refused)
CREATE UNIQUE INDEX segment_exports_daily_once ON segment_exports (portal_id, segment, day)
    WHERE trigger = 'daily' AND status = 'done';

-- What a UniSender list was last given for a segment: the next export takes out of the list
-- whoever left the segment (opted out, moved, gone) or changed address.
CREATE TABLE segment_list_members (
    portal_id   BIGINT NOT NULL,
    segment     TEXT NOT NULL CHECK (segment <> '' AND length(segment) <= 100),
    list_id     BIGINT NOT NULL CHECK (list_id > 0),
    customer_id BIGINT NOT NULL,
    email       TEXT CHECK (email <> ''),
    phone       TEXT CHECK (phone <> ''),
    listed_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (portal_id, segment, list_id, customer_id),
    FOREIGN KEY (customer_id, portal_id) REFERENCES customers (id, portal_id) ON DELETE CASCADE,
    CONSTRAINT has_an_address CHECK (email IS NOT NULL OR phone IS NOT NULL)
);
"""

DOWNGRADE = r"""
DROP TABLE segment_list_members;
DROP TABLE segment_exports;
DROP TABLE job_failures;
UPDATE notifications SET status = 'skipped', last_error = 'cancelled by the operator'
    WHERE status = 'cancelled';
ALTER TABLE notifications DROP CONSTRAINT notifications_status_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_status_check
    CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'skipped'));
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DOWNGRADE)
