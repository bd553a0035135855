"""The wallets' tables (issue 19): Apple Wallet passes, the links that hand them out, the devices
registered for updates and the APNs outbox (migration 0026)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, LargeBinary, Table, Text

from kopilka.db.crypto import EncryptedText
from kopilka.db.tables.base import TZ, metadata

wallet_apple_passes = Table(
    "wallet_apple_passes",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("portal_id", BigInteger, nullable=False),
    Column("customer_id", BigInteger, nullable=False),
    Column("serial", Text, nullable=False),
    Column("auth_token", EncryptedText, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("updated_at", TZ, nullable=False),
    Column("created_at", TZ, nullable=False),
)

wallet_apple_links = Table(
    "wallet_apple_links",
    metadata,
    Column("token_hash", LargeBinary, primary_key=True),
    Column("pass_id", BigInteger, nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("expires_at", TZ, nullable=False),
)

wallet_apple_devices = Table(
    "wallet_apple_devices",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("library_id", Text, nullable=False),
    Column("push_token", Text, nullable=False),
    Column("updated_at", TZ, nullable=False),
)

wallet_apple_registrations = Table(
    "wallet_apple_registrations",
    metadata,
    Column("device_id", BigInteger, primary_key=True),
    Column("pass_id", BigInteger, primary_key=True),
    Column("created_at", TZ, nullable=False),
)

wallet_apple_pushes = Table(
    "wallet_apple_pushes",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("portal_id", BigInteger, nullable=False),
    Column("device_id", BigInteger),
    Column("push_token", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("not_before", TZ, nullable=False),
    Column("sent_at", TZ),
    Column("last_error", Text),
)
