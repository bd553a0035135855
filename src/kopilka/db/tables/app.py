"""The Bitrix24 application's own tables: sessions of the pages framed in the portal, limits on
manual grants per person (R-11)."""

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
    Column("placement", Text, nullable=False),
    Column("entity_id", BigInteger),
    Column("created_at", TZ, nullable=False),
    Column("expires_at", TZ, nullable=False),
)

b24_grant_limits = Table(
    "b24_grant_limits",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("portal_id", BigInteger, nullable=False),
    Column("role", Text),  # 'manager', or NULL for a user's own limit
    Column("user_id", BigInteger),
    Column("user_name", Text, nullable=False),
    Column("max_total", BigInteger, nullable=False),  # kopecks of points
    Column("period", Text, nullable=False),  # day | week | month | year
    Column("updated_by", Text, nullable=False),
    Column("updated_at", TZ, nullable=False),
)
