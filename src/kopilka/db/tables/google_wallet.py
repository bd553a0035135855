"""The customers' cards in Google Wallet (migration 0027): the class of each portal's program
and the object of each customer, with what Google has of it."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, Table, Text
from sqlalchemy.dialects.postgresql import ARRAY

from kopilka.db.tables.base import TZ, metadata

google_wallet_classes = Table(
    "google_wallet_classes",
    metadata,
    Column("portal_id", BigInteger, primary_key=True),
    Column("class_id", Text, nullable=False),
    Column("body_hash", Text),  # the class as Google has it; NULL: not made on Google yet
    Column("created_at", TZ, nullable=False),
    Column("updated_at", TZ),
)

google_wallet_objects = Table(
    "google_wallet_objects",
    metadata,
    Column("portal_id", BigInteger, primary_key=True),
    Column("customer_id", BigInteger, primary_key=True),
    Column("object_id", Text, nullable=False),
    Column("version", BigInteger, nullable=False),  # moved by every ledger change
    Column("synced_version", BigInteger, nullable=False),  # what Google shows; 0: not made
    Column("dirty_since", TZ),  # the first change Google has not seen
    Column("notified_at", ARRAY(TZ), nullable=False),  # updates the holder was told of
    Column("attempts", Integer, nullable=False),
    Column("retry_at", TZ),
    Column("last_error", Text),
    Column("created_at", TZ, nullable=False),
    Column("patched_at", TZ),
)
