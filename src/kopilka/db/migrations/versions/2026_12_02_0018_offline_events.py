"""Issue 17 (item 7): offline event delivery, per portal.

A portal Bitrix24 cannot reach (a server behind NAT) has its events kept in the portal's
offline queue and read by Kopilka (``event.offline.get``, reference §6.7). One row per portal
that has chosen a delivery: ``online`` (the portal POSTs to ``/b24/events``, the default when
there is no row) or ``offline``; the batch Kopilka reserved (``process_id``) and has not cleared
yet — stored *before* its records are processed, so that a run that dies between reading and
clearing is resumed by the next one; and when the queue was last read, how many records it has
given, and the last failure.

Revision ID: 0018
Revises: 0016
Create Date: 2026-12-02
"""

from alembic import op

revision = "0018"
down_revision = "0016"
branch_labels = None
depends_on = None

SCHEMA = r"""
CREATE TABLE b24_event_delivery (
    portal_id   BIGINT PRIMARY KEY REFERENCES b24_connections (portal_id) ON DELETE CASCADE,
    mode        TEXT NOT NULL DEFAULT 'online' CHECK (mode IN ('online', 'offline')),
    changed_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    process_id  TEXT CHECK (process_id <> '' AND length(process_id) <= 200),
    reserved_at TIMESTAMPTZ,
    polled_at   TIMESTAMPTZ,
    processed   BIGINT NOT NULL DEFAULT 0 CHECK (processed >= 0),
    last_error  TEXT CHECK (length(last_error) <= 500),
    CHECK ((process_id IS NULL) = (reserved_at IS NULL))
);
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("DROP TABLE b24_event_delivery")
