"""The points ledger and what it belongs to: portals, their program lineage and versions,
customers, accounts, holds, transactions, lots and entries (migrations 0001, 0010)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Enum,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB

from kopilka.db.tables.base import TZ, metadata

portals = Table(
    "portals",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("member_id", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("created_at", TZ),
)

programs = Table(
    "programs",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("portal_id", BigInteger, nullable=False),
    Column("code", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("timezone", Text, nullable=False),
    Column("created_at", TZ),
)

program_versions = Table(
    "program_versions",
    metadata,
    Column("program_id", BigInteger, primary_key=True),
    Column("hash", Text, primary_key=True),
    Column("source_name", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("loaded_at", TZ),
)

program_activations = Table(
    "program_activations",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("program_id", BigInteger, nullable=False),
    Column("hash", Text, nullable=False),
    Column("active_from", TZ, nullable=False),
    Column("applied_at", TZ),
    Column("applied_by", Text, nullable=False),
)

customers = Table(
    "customers",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("portal_id", BigInteger, nullable=False),
    Column("external_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("phone", Text),
    Column("created_at", TZ),
)

ACCOUNT_KINDS = ("issued", "customer", "held", "redeemed", "expired")
accounts = Table(
    "accounts",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("portal_id", BigInteger, nullable=False),
    Column("program_id", BigInteger, nullable=False),
    Column("kind", Enum(*ACCOUNT_KINDS, name="account_kind", create_type=False), nullable=False),
    Column("customer_id", BigInteger),
    Column("balance", BigInteger, nullable=False),
)

HOLD_STATUSES = ("active", "captured", "released", "expired")
holds = Table(
    "holds",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("portal_id", BigInteger, nullable=False),
    Column("account_id", BigInteger, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("captured", BigInteger, nullable=False),
    Column("status", Enum(*HOLD_STATUSES, name="hold_status", create_type=False), nullable=False),
    Column("reference", Text, nullable=False),
    Column("expires_at", TZ, nullable=False),
    Column("created_at", TZ),
    Column("closed_at", TZ),
)

TRANSACTION_KINDS = ("accrual", "redemption", "hold", "capture", "release", "expiry", "reversal")
ledger_transactions = Table(
    "ledger_transactions",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("portal_id", BigInteger, nullable=False),
    Column("program_id", BigInteger, nullable=False),
    Column(
        "kind", Enum(*TRANSACTION_KINDS, name="transaction_kind", create_type=False), nullable=False
    ),
    Column("idempotency_key", Text, nullable=False),
    Column("input_hash", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("reference", Text, nullable=False),
    Column("program_hash", Text),
    Column("rule_id", Text),
    Column("rule_inputs", JSONB, nullable=False),
    Column("hold_id", BigInteger),
    Column("reverses_id", BigInteger),
    Column("effective_at", TZ, nullable=False),
    Column("created_at", TZ),
)

lots = Table(
    "lots",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("account_id", BigInteger, nullable=False),
    Column("transaction_id", BigInteger, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("remaining", BigInteger, nullable=False),
    Column("available_at", TZ, nullable=False),
    Column("expires_at", TZ),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("transaction_id", BigInteger, nullable=False),
    Column("account_id", BigInteger, nullable=False),
    Column("lot_id", BigInteger),
    Column("amount", BigInteger, nullable=False),
)

# --- The Bitrix24 connector (migration 0002) ---
