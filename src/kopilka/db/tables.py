"""SQLAlchemy Core descriptions of the tables the migrations create (queries only; the schema
itself, with its constraints and triggers, lives in the Alembic migrations)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Enum,
    Float,
    Integer,
    MetaData,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from kopilka.db.crypto import EncryptedText

metadata = MetaData()
TZ = DateTime(timezone=True)
#: The largest id a BIGINT column holds: ids from outside are checked against it.
BIGINT_MAX = 2**63 - 1

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

b24_connections = Table(
    "b24_connections",
    metadata,
    Column("portal_id", BigInteger, primary_key=True),
    Column("mode", Text, nullable=False),
    Column("client_id", Text),  # the app's client id (app mode, migration 0009)
    Column("domain", Text, nullable=False),
    Column("webhook_url", EncryptedText),
    Column("client_endpoint", Text),
    Column("access_token", EncryptedText),
    Column("refresh_token", EncryptedText),
    Column("token_expires_at", TZ),
    Column("token_version", BigInteger, nullable=False),
    Column("application_token", EncryptedText, nullable=False),
    Column("program_id", BigInteger),
    Column("field_map", JSONB, nullable=False),
    Column("status", Text, nullable=False),
    Column("connected_at", TZ),
    Column("provisioned_at", TZ),
)

b24_rate_limits = Table(
    "b24_rate_limits",
    metadata,
    Column("portal_id", BigInteger, primary_key=True),
    Column("tat", TZ, nullable=False),
    Column("paused_until", TZ, nullable=False),
    Column("granted", BigInteger, nullable=False),
    Column("waited", BigInteger, nullable=False),
    Column("wait_seconds", Float, nullable=False),
    Column("rejected", BigInteger, nullable=False),
)

b24_dirty_deals = Table(
    "b24_dirty_deals",
    metadata,
    Column("portal_id", BigInteger, primary_key=True),
    Column("deal_id", BigInteger, primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("source", Text, nullable=False),
    Column("hinted_at", TZ, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    Column("retry_at", TZ),
)

b24_deals = Table(
    "b24_deals",
    metadata,
    Column("portal_id", BigInteger, primary_key=True),
    Column("deal_id", BigInteger, primary_key=True),
    Column("category_id", BigInteger, nullable=False),
    Column("stage_id", Text, nullable=False),
    Column("semantic", Text, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("contact_ids", ARRAY(BigInteger), nullable=False),
    Column("closed_at", TZ),
    Column("modified_at", TZ),
    Column("won_sections", JSONB),
    Column("priced_by", Text),  # the program version a won deal was priced under (0010)
    Column("engine_input", JSONB),  # the domain.deal.Deal as last settled (0014, deal_codec)
    Column("applied_discount", JSONB, nullable=False),
    Column("synced_at", TZ, nullable=False),
)

b24_outbox = Table(
    "b24_outbox",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("portal_id", BigInteger, nullable=False),
    Column("key", Text, nullable=False),
    Column("method", Text, nullable=False),
    Column("params", JSONB, nullable=False),
    Column("idempotent", Boolean, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    Column("created_at", TZ, nullable=False),
    Column("sent_at", TZ),
)

#: what the offers list's elements of a deal asked for when it was last settled (issue 15)
b24_offer_inputs = Table(
    "b24_offer_inputs",
    metadata,
    Column("portal_id", BigInteger, primary_key=True),
    Column("deal_id", BigInteger, primary_key=True),
    Column("digest", Text, nullable=False),
    Column("seen_at", TZ),
)

b24_sync_state = Table(
    "b24_sync_state",
    metadata,
    Column("portal_id", BigInteger, primary_key=True),
    Column("swept_through", TZ),
    Column("last_sweep_at", TZ),
    Column("last_sync_at", TZ),
    Column("rows_per_deal_at", TZ),
)

b24_portal_health = Table(
    "b24_portal_health",
    metadata,
    Column("portal_id", BigInteger, primary_key=True),
    Column("last_ok_at", TZ),
    Column("last_error_at", TZ),
    Column("last_error_class", Text),
)

b24_rejected_events = Table(
    "b24_rejected_events",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("received_at", TZ),
    Column("member_id", Text),
    Column("event", Text),
    Column("reason", Text, nullable=False),
    Column("remote", Text),
)

b24_sync_runs = Table(
    "b24_sync_runs",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("portal_id", BigInteger, nullable=False),
    Column("worker", Text, nullable=False),
    Column("started_at", TZ, nullable=False),
    Column("finished_at", TZ),
    Column("deals", Integer, nullable=False),
    Column("postings", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
)


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

b24_deal_shares = Table(
    "b24_deal_shares",
    metadata,
    Column("portal_id", BigInteger, primary_key=True),
    Column("deal_id", BigInteger, primary_key=True),
    Column("contact_id", BigInteger, primary_key=True),
    Column("category_id", BigInteger, nullable=False),
    Column("closed_at", TZ, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("dates", JSONB, nullable=False),  # {date field: "YYYY-MM-DD"} (totals' year_of)
)

b24_catalog_sections = Table(
    "b24_catalog_sections",
    metadata,
    Column("portal_id", BigInteger, primary_key=True),
    Column("parents", JSONB, nullable=False),  # {"section id": parent id or null}
    Column("fetched_at", TZ),
    Column("stale", Boolean, nullable=False),
)

b24_products = Table(
    "b24_products",
    metadata,
    Column("portal_id", BigInteger, primary_key=True),
    Column("product_id", BigInteger, primary_key=True),
    Column("section_id", BigInteger),
    Column("name", Text, nullable=False),
    Column("code", Text),
    Column("properties", JSONB, nullable=False),
    Column("fetched_at", TZ),
    Column("stale", Boolean, nullable=False),
)

b24_contact_state = Table(
    "b24_contact_state",
    metadata,
    Column("portal_id", BigInteger, primary_key=True),
    Column("contact_id", BigInteger, primary_key=True),
    Column("level_id", Text),
    Column("updated_at", TZ),
)

# --- The public API, the cabinet and the admin (migration 0005) ---

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
)

# --- daily jobs (issue 4: birthdays, yearly totals) ---------------------------------------------

b24_daily_runs = Table(
    "b24_daily_runs",
    metadata,
    Column("portal_id", BigInteger, primary_key=True),
    Column("job", Text, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("finished_at", TZ, nullable=False),
    Column("stats", JSONB, nullable=False),
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
