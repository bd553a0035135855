"""The Bitrix24 connector's tables: connections, rate limits, hints, deal snapshots and shares,
the outbox, sync state and runs, portal health, the catalog cache, daily runs, robot calls."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    Integer,
    LargeBinary,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from kopilka.db.crypto import EncryptedText
from kopilka.db.tables.base import TZ, metadata

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
    Column("backfill_started_at", TZ),  # a running (or interrupted) sync --all began (0029)
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

# --- robots and business-process activities (issue 17, migration 0017) -------------------------

b24_robot_calls = Table(
    "b24_robot_calls",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("portal_id", BigInteger, nullable=False),
    Column("token_hash", LargeBinary, nullable=False),
    Column("event_token", EncryptedText, nullable=False),
    Column("code", Text, nullable=False),
    Column("document", Text, nullable=False),
    Column("user_id", BigInteger),
    Column("properties", JSONB, nullable=False),
    Column("subscribed", Boolean, nullable=False),
    Column("state", Text, nullable=False),
    Column("result", JSONB),
    Column("error", Text),
    Column("attempts", Integer, nullable=False),
    Column("deliveries", Integer, nullable=False),
    Column("received_at", TZ, nullable=False),
    Column("finished_at", TZ),
)

# --- offline event delivery (issue 17, migration 0018) ------------------------------------------

b24_event_delivery = Table(
    "b24_event_delivery",
    metadata,
    Column("portal_id", BigInteger, primary_key=True),
    Column("mode", Text, nullable=False),  # online | offline
    Column("changed_at", TZ, nullable=False),
    Column("process_id", Text),  # the reserved batch not cleared yet
    Column("reserved_at", TZ),
    Column("polled_at", TZ),
    Column("processed", BigInteger, nullable=False),
    Column("last_error", Text),
)
