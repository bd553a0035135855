"""Issue 17 (inside Bitrix24): what a manager chose for each contact of a deal on the deal's
«Бонусы» tab — the discount percents applied and the points paid — with who chose it and when.

One row per (deal, contact): the one source of truth of the tab's choice. The sync reads it with
the deal, as it reads the offers list's element, and writes it into that element, so the two never
show different numbers; ``list_inputs`` is what the element asked when the choice last took it
over (a manager's later edit of the element supersedes the choice: the latest edit wins).
``b24_deal_choice_submits`` keeps every word asked on the tab (or by a robot): who, when, what —
the audit of the choices — and, by its key, makes a form sent twice record once.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02
"""

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

SCHEMA = r"""
CREATE TABLE b24_deal_choices (
    portal_id    BIGINT NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    deal_id      BIGINT NOT NULL CHECK (deal_id > 0),
    contact_id   BIGINT NOT NULL CHECK (contact_id > 0),
    discounts    JSONB NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(discounts) = 'object'),
    points       BIGINT NOT NULL DEFAULT 0 CHECK (points >= 0),
    set_by       TEXT NOT NULL CHECK (length(set_by) BETWEEN 1 AND 300),
    set_at       TIMESTAMPTZ NOT NULL,
    submit_key   TEXT NOT NULL CHECK (length(submit_key) BETWEEN 16 AND 64),
    list_inputs  TEXT,
    PRIMARY KEY (portal_id, deal_id, contact_id)
);
CREATE UNIQUE INDEX b24_deal_choices_submit ON b24_deal_choices (portal_id, submit_key);

CREATE TABLE b24_deal_choice_submits (
    portal_id    BIGINT NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    submit_key   TEXT NOT NULL CHECK (length(submit_key) BETWEEN 16 AND 64),
    deal_id      BIGINT NOT NULL CHECK (deal_id > 0),
    contact_id   BIGINT NOT NULL CHECK (contact_id > 0),
    discounts    JSONB NOT NULL CHECK (jsonb_typeof(discounts) = 'object'),
    points       BIGINT NOT NULL CHECK (points >= 0),
    via_field    BOOLEAN NOT NULL,
    set_by       TEXT NOT NULL CHECK (length(set_by) BETWEEN 1 AND 300),
    set_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (portal_id, submit_key)
);
CREATE INDEX b24_deal_choice_submits_deal ON b24_deal_choice_submits (portal_id, deal_id, set_at);
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("DROP TABLE b24_deal_choice_submits; DROP TABLE b24_deal_choices")
