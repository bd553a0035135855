"""Re-encrypt every stored secret with the first key (``kopilka secrets rotate``).

The secret columns are the ones :mod:`kopilka.db.tables` declares as
:class:`~kopilka.db.crypto.EncryptedText`. Their rows are read ``FOR UPDATE``: a token refresh
(which locks the same row) waits for the rotation instead of being overwritten by it.
"""

from __future__ import annotations

from sqlalchemy import Column, Table, Text, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.db.crypto import EncryptedText, Keyring
from kopilka.db.tables import metadata


def secret_columns() -> list[tuple[Table, list[Column[str]]]]:
    found = []
    for table in metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, EncryptedText)]
        if columns:
            found.append((table, columns))
    return found


async def rotate_secrets(conn: AsyncConnection, keyring: Keyring) -> int:
    """Re-encrypt every secret value with ``keyring``'s first key; how many values were written.
    Raises :class:`~kopilka.db.crypto.SecretKeyError` (nothing written) if one is unreadable."""
    rewritten = 0
    for table, columns in secret_columns():
        keys = list(table.primary_key.columns)
        raw = [type_coerce(c, Text).label(c.name) for c in columns]  # the stored ciphertext
        rows = (await conn.execute(select(*keys, *raw).with_for_update())).all()
        for row in rows:
            m = row._mapping
            values = {
                c.name: type_coerce(keyring.rotate(m[c.name]), Text)
                for c in columns
                if m[c.name] is not None
            }
            if values:
                where = [k == m[k.name] for k in keys]
                await conn.execute(update(table).where(*where).values(values))
                rewritten += len(values)
    return rewritten
