"""What the operator's views and segment mailings keep (migration 0024): the errors of failed
jobs, the exports of mailing segments."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, Integer, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

from kopilka.db.tables.base import TZ, metadata

job_failures = Table(
    "job_failures",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("job_id", BigInteger, nullable=False),
    Column("task_name", Text, nullable=False),
    Column("portal_id", BigInteger),
    Column("attempt", Integer, nullable=False),
    Column("error", Text, nullable=False),
    Column("failed_at", TZ),
)

segment_exports = Table(
    "segment_exports",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("portal_id", BigInteger, nullable=False),
    Column("segment", Text, nullable=False),
    Column("target", Text, nullable=False),
    Column("trigger", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("list_id", BigInteger),
    Column("status", Text, nullable=False),
    Column("contacts", Integer, nullable=False),
    Column("inserted", Integer),
    Column("updated", Integer),
    Column("invalid", Integer),
    Column("deleted", Integer),
    Column("error", Text),
    Column("log", JSONB, nullable=False),
    Column("day", Date, nullable=False),
    Column("started_at", TZ, nullable=False),
    Column("finished_at", TZ, nullable=False),
)

segment_list_members = Table(
    "segment_list_members",
    metadata,
    Column("portal_id", BigInteger, primary_key=True),
    Column("segment", Text, primary_key=True),
    Column("list_id", BigInteger, primary_key=True),
    Column("customer_id", BigInteger, primary_key=True),
    Column("email", Text),
    Column("phone", Text),
    Column("listed_at", TZ, nullable=False),
)
