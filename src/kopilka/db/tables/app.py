"""The Bitrix24 application's own tables: sessions of the pages framed in the portal."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, LargeBinary, Table, Text

from kopilka.db.tables.base import TZ, metadata

b24_app_sessions = Table(
    "b24_app_sessions",
    metadata,
    Column("token_hash", LargeBinary, primary_key=True),  # sha256 of the token
    Column("portal_id", BigInteger, nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("user_name", Text, nullable=False),
    Column("is_admin", Boolean, nullable=False),
    Column("lang", Text, nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("expires_at", TZ, nullable=False),
)
