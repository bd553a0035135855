"""Issue 14 (program lifecycle): one program lineage per portal, its versions activated from a
stated moment, and each won deal priced by the version in force when it was won.

* ``programs`` becomes the portal's lineage: one row per portal (its ``code`` may be renamed;
  the book — accounts, balances — belongs to the row, not to the code).
* ``program_activations`` says which version is in force from when (append-only: a change of
  program is a new row, never an edit; the active version at a moment is the newest activation
  whose ``active_from`` is not after it).
* ``b24_deals.priced_by`` is the version a won deal was priced under (frozen at the win, like
  ``won_sections``): re-syncing the deal never re-prices it under a newer version.

Existing data: each loaded version becomes an activation at its ``loaded_at`` (the order in
which they were in force), and every won deal is priced by its portal's newest version (the one
it would have been re-priced under before this revision). A portal with two programs cannot be
migrated automatically: the migration stops and says which.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SCHEMA = r"""
DO $$
DECLARE dup BIGINT;
BEGIN
    SELECT portal_id INTO dup FROM programs GROUP BY portal_id HAVING count(*) > 1 LIMIT 1;
    IF dup IS NOT NULL THEN
        RAISE EXCEPTION 'portal % has more than one program; keep one (see docs/program-file.md,'
            ' "Changing a program") before upgrading', dup;
    END IF;
END $$;
CREATE UNIQUE INDEX programs_one_lineage ON programs (portal_id);

CREATE TABLE program_activations (
    id           BIGSERIAL PRIMARY KEY,
    program_id   BIGINT NOT NULL,
    hash         TEXT NOT NULL,
    active_from  TIMESTAMPTZ NOT NULL,
    applied_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_by   TEXT NOT NULL CHECK (applied_by <> ''),
    FOREIGN KEY (program_id, hash) REFERENCES program_versions (program_id, hash)
        ON DELETE RESTRICT
);
CREATE INDEX program_activations_at ON program_activations (program_id, active_from, id);
CREATE FUNCTION program_history_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'program history is append-only: % on % refused (apply a new version)',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE TRIGGER program_activations_immutable BEFORE UPDATE OR DELETE ON program_activations
    FOR EACH ROW EXECUTE FUNCTION program_history_refuse_change();
CREATE TRIGGER program_versions_immutable BEFORE UPDATE OR DELETE ON program_versions
    FOR EACH ROW EXECUTE FUNCTION program_history_refuse_change();

INSERT INTO program_activations (program_id, hash, active_from, applied_at, applied_by)
SELECT program_id, hash, loaded_at, loaded_at, 'migration 0010'
FROM program_versions ORDER BY loaded_at, hash;

-- `kopilka portal disconnect`: a connection stops (its credentials erased), its book stays.
DO $$
DECLARE c RECORD;
BEGIN
    FOR c IN SELECT conname FROM pg_constraint
             WHERE conrelid = 'b24_connections'::regclass AND contype = 'c'
               AND (pg_get_constraintdef(oid) LIKE '%status%'
                    OR pg_get_constraintdef(oid) LIKE '%webhook_url IS NOT NULL%'
                    OR pg_get_constraintdef(oid) LIKE '%refresh_token IS NOT NULL%')
    LOOP
        EXECUTE format('ALTER TABLE b24_connections DROP CONSTRAINT %I', c.conname);
    END LOOP;
END $$;
ALTER TABLE b24_connections
    ADD CONSTRAINT b24_connections_status_check
        CHECK (status IN ('active', 'uninstalled', 'disconnected')),
    ADD CONSTRAINT b24_connections_credentials CHECK (
        status = 'disconnected'
        OR ((mode <> 'webhook' OR webhook_url IS NOT NULL)
            AND (mode <> 'app' OR (client_endpoint IS NOT NULL AND refresh_token IS NOT NULL))));

-- The portal's program is its lineage (programs.portal_id): the connection's own pointer to
-- it would be a second copy to keep in step.
ALTER TABLE b24_connections DROP COLUMN program_id;

ALTER TABLE b24_deals ADD COLUMN priced_by TEXT;
UPDATE b24_deals d SET priced_by = newest.hash
FROM (
    SELECT DISTINCT ON (p.portal_id) p.portal_id, v.hash
    FROM programs p JOIN program_versions v ON v.program_id = p.id
    ORDER BY p.portal_id, v.loaded_at DESC
) AS newest
WHERE d.portal_id = newest.portal_id AND d.semantic = 'S';
"""

DROP = r"""
ALTER TABLE b24_connections ADD COLUMN program_id BIGINT REFERENCES programs ON DELETE RESTRICT;
UPDATE b24_connections c SET program_id = p.id FROM programs p WHERE p.portal_id = c.portal_id;
ALTER TABLE b24_connections DROP CONSTRAINT b24_connections_credentials,
    DROP CONSTRAINT b24_connections_status_check;
ALTER TABLE b24_connections
    ADD CONSTRAINT b24_connections_status_check CHECK (status IN ('active', 'uninstalled')),
    ADD CHECK (mode <> 'webhook' OR webhook_url IS NOT NULL),
    ADD CHECK (mode <> 'app' OR (client_endpoint IS NOT NULL AND refresh_token IS NOT NULL));
ALTER TABLE b24_deals DROP COLUMN priced_by;
DROP TABLE program_activations;
DROP TRIGGER program_versions_immutable ON program_versions;
DROP FUNCTION program_history_refuse_change;
DROP INDEX programs_one_lineage;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DROP)
