"""A restaurant on iiko (issue 20, migration 0028): links, mirrored wallets, pushes, till events."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Table, Text

from kopilka.db.crypto import EncryptedText
from kopilka.db.tables.base import TZ, metadata

iiko_links = Table(
    "iiko_links",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("portal_id", BigInteger, nullable=False),
    Column("organization_id", Text, nullable=False),
    Column("api_login", EncryptedText, nullable=False),
    Column("base_url", Text, nullable=False),
    Column("orders_as_deals", Boolean, nullable=False),
    Column("deal_category", BigInteger, nullable=False),
    Column("deal_stage", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("orders_revision", BigInteger, nullable=False),
    Column("last_sync_at", TZ),
    Column("last_error", Text),
    Column("created_at", TZ),
)

iiko_customers = Table(
    "iiko_customers",
    metadata,
    Column("link_id", BigInteger, primary_key=True),
    Column("customer_id", BigInteger, primary_key=True),
    Column("iiko_customer_id", Text, nullable=False),
    Column("wallet_id", Text, nullable=False),
    Column("phone", Text, nullable=False),
    Column("wallet_balance", BigInteger, nullable=False),
    Column("revision", BigInteger, nullable=False),
    Column("last_transaction_id", Text),
    Column("synced_at", TZ),
)

iiko_pushes = Table(
    "iiko_pushes",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("link_id", BigInteger, nullable=False),
    Column("customer_id", BigInteger, nullable=False),
    Column("kind", Text, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("before", BigInteger, nullable=False),
    Column("after", BigInteger, nullable=False),
    Column("status", Text, nullable=False),
    Column("created_at", TZ),
    Column("settled_at", TZ),
)

iiko_till_events = Table(
    "iiko_till_events",
    metadata,
    Column("link_id", BigInteger, primary_key=True),
    Column("transaction_id", Text, primary_key=True),
    Column("customer_id", BigInteger, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("posted", BigInteger, nullable=False),
    Column("shortfall", BigInteger, nullable=False),
    Column("status", Text, nullable=False),
    Column("order_number", Text),
    Column("happened_at", TZ),
    Column("recorded_at", TZ),
    Column("reported_at", TZ),
)

iiko_orders = Table(
    "iiko_orders",
    metadata,
    Column("link_id", BigInteger, primary_key=True),
    Column("order_id", Text, primary_key=True),
    Column("deal_id", BigInteger, nullable=False),
    Column("contact_id", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("created_at", TZ),
)
