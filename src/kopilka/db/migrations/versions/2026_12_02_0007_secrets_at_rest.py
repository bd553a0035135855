"""Secrets at rest: encrypt the stored Bitrix24 credentials, and refuse plaintext from now on.

Existing plaintext values are encrypted here with the key of the running Kopilka's settings
(``KOPILKA_SECRET_KEYS``, or the development key file; docs/decisions.md): migrations run inside
``kopilka db upgrade``/``serve``/``demo``, which read the same settings. The key is needed only
when there are rows, so a new database needs none. Then a CHECK per column refuses any value
without the ``enc:v<N>:`` prefix, so nothing can write a secret in clear again.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from alembic import op
from sqlalchemy import text

from kopilka.db import crypto

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

COLUMNS = ("webhook_url", "access_token", "refresh_token", "application_token")
PATTERN = "'^enc:v[0-9]+:'"


def _rewrite(convert_plain: bool) -> None:
    """Encrypt plaintext values (``convert_plain``) or decrypt encrypted ones."""
    conn = op.get_bind()
    rows = conn.execute(
        text(f"SELECT portal_id, {', '.join(COLUMNS)} FROM b24_connections FOR UPDATE")  # noqa: S608
    ).all()
    if not rows:
        return
    keyring = crypto.current()
    for row in rows:
        m = row._mapping
        values = {}
        for column in COLUMNS:
            value = m[column]
            if value is None:
                continue
            if convert_plain and not value.startswith(crypto.PREFIX):
                values[column] = keyring.encrypt(value)
            elif not convert_plain and value.startswith(crypto.PREFIX):
                values[column] = keyring.decrypt(value)
        if values:
            assignments = ", ".join(f"{c} = :{c}" for c in values)
            conn.execute(
                text(f"UPDATE b24_connections SET {assignments} WHERE portal_id = :pk"),  # noqa: S608
                {**values, "pk": m["portal_id"]},
            )


def upgrade() -> None:
    _rewrite(convert_plain=True)
    for column in COLUMNS:
        op.execute(
            f"ALTER TABLE b24_connections ADD CONSTRAINT b24_connections_{column}_encrypted "
            f"CHECK ({column} ~ {PATTERN})"
        )
    op.execute(
        "COMMENT ON TABLE b24_connections IS 'webhook_url, access_token, refresh_token and "
        "application_token are Fernet ciphertext (kopilka.db.crypto, docs/security.md)'"
    )


def downgrade() -> None:
    for column in COLUMNS:
        op.execute(
            f"ALTER TABLE b24_connections DROP CONSTRAINT b24_connections_{column}_encrypted"
        )
    op.execute("COMMENT ON TABLE b24_connections IS NULL")
    _rewrite(convert_plain=False)
