"""The admin's people, their portals and roles, the audit log, grants waiting for approval and
the one-time hand-overs from the app's page (issue 18, migration 0025)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

from kopilka.db.tables.base import TZ, metadata

admin_users = Table(
    "admin_users",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("login", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("password_hash", Text),
    Column("b24_portal_id", BigInteger),
    Column("b24_user_id", BigInteger),
    Column("failed_logins", Integer, nullable=False),
    Column("last_failed_at", TZ),
    Column("created_at", TZ, nullable=False),
    Column("disabled_at", TZ),
)

admin_memberships = Table(
    "admin_memberships",
    metadata,
    Column("user_id", BigInteger, primary_key=True),
    Column("portal_id", BigInteger, primary_key=True),
    Column("role", Text, nullable=False),
    Column("grant_limit", BigInteger),
    Column("grant_period", Text, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("at", TZ, nullable=False),
    Column("portal_id", BigInteger),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("details", JSONB, nullable=False),
    Column("reason", Text, nullable=False),
)

admin_grant_requests = Table(
    "admin_grant_requests",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("portal_id", BigInteger, nullable=False),
    Column("customer_id", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("comment", Text, nullable=False),
    Column("requested_by", BigInteger, nullable=False),
    Column("requested_at", TZ, nullable=False),
    Column("status", Text, nullable=False),
    Column("decided_by", BigInteger),
    Column("decided_at", TZ),
    Column("transaction_id", BigInteger),
    Column("request_key", Text, nullable=False),  # the form's key: a double submit asks once
)

admin_handovers = Table(
    "admin_handovers",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("token_hash", Text, nullable=False),
    Column("portal_id", BigInteger, nullable=False),
    Column("b24_user_id", BigInteger, nullable=False),
    Column("user_name", Text, nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("expires_at", TZ, nullable=False),
    Column("used_at", TZ),
)
