"""The features' tables: bonus cards, API idempotency, POS orders, the cabinet's logins and
sessions, contact hints, notifications and registrations."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Integer,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB

from kopilka.db.tables.base import TZ, metadata

cards = Table(
    "cards",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("portal_id", BigInteger, nullable=False),
    Column("customer_id", BigInteger, nullable=False),
    Column("number", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("issued_at", TZ),
    Column("issued_by", Text, nullable=False),
)

api_idempotency = Table(
    "api_idempotency",
    metadata,
    Column("portal_id", BigInteger, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("endpoint", Text, nullable=False),
    Column("request_hash", Text, nullable=False),
    Column("status", Integer, nullable=False),
    Column("response", JSONB, nullable=False),
    Column("created_at", TZ),
)

pos_orders = Table(
    "pos_orders",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("portal_id", BigInteger, nullable=False),
    Column("program_id", BigInteger, nullable=False),
    Column("order_id", Text, nullable=False),
    Column("customer_id", BigInteger, nullable=False),
    Column("status", Text, nullable=False),
    Column("pipeline_id", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("points_paid", BigInteger, nullable=False),
    Column("hold_id", BigInteger),
    Column("created_at", TZ),
    Column("committed_at", TZ),
    Column("closed_at", TZ),
)

pos_order_lines = Table(
    "pos_order_lines",
    metadata,
    Column("order_pk", BigInteger, primary_key=True),
    Column("line_id", Text, primary_key=True),
    Column("position", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("section_id", BigInteger),
    Column("refunded_at", TZ),
)

login_codes = Table(
    "login_codes",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("portal_id", BigInteger, nullable=False),
    Column("phone", Text, nullable=False),
    Column("code_hash", Text, nullable=False),
    Column("salt", Text, nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("expires_at", TZ, nullable=False),
    Column("used_at", TZ),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("portal_id", BigInteger, nullable=False),
    Column("subject", Text, nullable=False),
    Column("at", TZ, nullable=False),
)

#: Requests for a login code, known phones or not (the caps; kopilka.cabinet.codes).
login_requests = Table(
    "login_requests",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("portal_id", BigInteger, nullable=False),
    Column("phone_hash", Text, nullable=False),
    Column("addr", Text, nullable=False),
    Column("at", TZ, nullable=False),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("token_hash", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("portal_id", BigInteger, nullable=False),
    Column("customer_id", BigInteger),
    Column("created_at", TZ, nullable=False),
    Column("expires_at", TZ, nullable=False),
    Column("ended_at", TZ),
    Column("admin_user_id", BigInteger),  # a named admin user's session (issue 18)
)

# --- cards, registrations, notifications (issue 5) ---

contact_hints = Table(
    "contact_hints",
    metadata,
    Column("portal_id", BigInteger, primary_key=True),
    Column("contact_id", BigInteger, primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("hinted_at", TZ),
)

notification_events = Table(
    "notification_events",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("portal_id", BigInteger, nullable=False),
    Column("kind", Text, nullable=False),
    Column("transaction_id", BigInteger, nullable=False),
    Column("customer_id", BigInteger, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("reference", Text, nullable=False),
    Column("created_at", TZ),
    Column("expanded_at", TZ),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("portal_id", BigInteger, nullable=False),
    Column("key", Text, nullable=False),
    Column("channel", Text, nullable=False),
    Column("recipient", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("params", JSONB, nullable=False),
    Column("customer_id", BigInteger),
    Column("event_id", BigInteger),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("unknown", Integer, nullable=False),
    Column("not_before", TZ, nullable=False),
    Column("lease_until", TZ),
    Column("last_error", Text),
    Column("provider_id", Text),
    Column("created_at", TZ),
    Column("sent_at", TZ),
)

notification_optouts = Table(
    "notification_optouts",
    metadata,
    Column("portal_id", BigInteger, primary_key=True),
    Column("customer_id", BigInteger, primary_key=True),
    Column("source", Text, nullable=False),
    Column("opted_out_at", TZ),
)

registrations = Table(
    "registrations",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("portal_id", BigInteger, nullable=False),
    Column("idempotency_key", Text, nullable=False),
    Column("input_hash", Text, nullable=False),
    Column("phone", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("last_name", Text, nullable=False),
    Column("email", Text, nullable=False),
    Column("birth_date", Date),
    Column("consent_at", TZ, nullable=False),
    Column("status", Text, nullable=False),
    Column("contact_id", BigInteger),
    Column("contact_created", Boolean),
    Column("last_error", Text),
    Column("created_at", TZ),
    Column("done_at", TZ),
)
