"""What managers chose on a deal's «Бонусы» tab, per contact (issue 17; migration 0020)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

from kopilka.db.tables.base import TZ, metadata

b24_deal_choices = Table(
    "b24_deal_choices",
    metadata,
    Column("portal_id", BigInteger, primary_key=True),
    Column("deal_id", BigInteger, primary_key=True),
    Column("contact_id", BigInteger, primary_key=True),
    Column("discounts", JSONB, nullable=False),  # discount id -> percent (a string: "5", "2.5")
    Column("points", BigInteger, nullable=False),  # kopecks of points
    Column("set_by", Text, nullable=False),  # the ledger's actor: "b24:user:<id> <name>"
    Column("set_at", TZ, nullable=False),
    Column("submit_key", Text, nullable=False),
    Column("list_inputs", Text),  # the offers-list element's inputs the choice took over
)

#: every word asked on the tab or by a robot, by its submit key (the audit; a replay is a no-op)
b24_deal_choice_submits = Table(
    "b24_deal_choice_submits",
    metadata,
    Column("portal_id", BigInteger, primary_key=True),
    Column("submit_key", Text, primary_key=True),
    Column("deal_id", BigInteger, nullable=False),
    Column("contact_id", BigInteger, nullable=False),
    Column("discounts", JSONB, nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("via_field", Boolean, nullable=False),  # the points went to the deal's pay field
    Column("set_by", Text, nullable=False),
    Column("set_at", TZ, nullable=False),
)
