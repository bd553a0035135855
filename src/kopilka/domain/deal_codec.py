"""A :class:`~kopilka.domain.deal.Deal` as plain JSON and back, exactly (``decode(encode(d)) ==
d``): what the sync records of a deal as the engine saw it (``b24_deals.engine_input``), so that
a candidate program can be replayed over the past without asking the portal again.

Field and property values are kept as they came (JSON values from the REST answers); dates and
moments are ISO 8601 strings. ``v`` names the layout, so that a later one can still read this.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

from kopilka.domain.deal import Contact, Deal, ProductRow, StageSemantic

VERSION = 1
_STAGES = ("process", "won", "lost")


def encode(deal: Deal) -> dict[str, Any]:
    return {
        "v": VERSION,
        "id": deal.id,
        "pipeline_id": deal.pipeline_id,
        "stage": deal.stage,
        "opportunity": deal.opportunity,
        "contacts": [_contact(c) for c in deal.contacts],
        "company_id": deal.company_id,
        "rows": [_row(r) for r in deal.rows],
        "points_to_pay": deal.points_to_pay,
        "closed_at": deal.closed_at.isoformat() if deal.closed_at else None,
        "fields": dict(deal.fields),
    }


def decode(data: dict[str, Any]) -> Deal:
    """The deal recorded by :func:`encode`; a layout it does not know is refused."""
    if data.get("v") != VERSION:
        raise ValueError(f"unknown engine_input layout {data.get('v')!r} (expected {VERSION})")
    stage = data["stage"]
    if stage not in _STAGES:
        raise ValueError(f"unknown deal stage {stage!r}")
    closed = data.get("closed_at")
    return Deal(
        id=int(data["id"]),
        pipeline_id=int(data["pipeline_id"]),
        stage=cast(StageSemantic, stage),
        opportunity=int(data["opportunity"]),
        contacts=tuple(_read_contact(c) for c in data["contacts"]),
        company_id=None if data.get("company_id") is None else int(data["company_id"]),
        rows=tuple(_read_row(r) for r in data["rows"]),
        points_to_pay=int(data.get("points_to_pay") or 0),
        closed_at=datetime.fromisoformat(closed) if closed else None,
        fields=dict(data.get("fields") or {}),
    )


def _contact(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.id,
        "type_id": contact.type_id,
        "fields": dict(contact.fields),
        "birthdate": contact.birthdate.isoformat() if contact.birthdate else None,
        "share": contact.share,
        "is_primary": contact.is_primary,
    }


def _read_contact(data: dict[str, Any]) -> Contact:
    born = data.get("birthdate")
    return Contact(
        id=int(data["id"]),
        type_id=data.get("type_id"),
        fields=dict(data.get("fields") or {}),
        birthdate=date.fromisoformat(born) if born else None,
        share=None if data.get("share") is None else int(data["share"]),
        is_primary=bool(data.get("is_primary")),
    )


def _row(row: ProductRow) -> dict[str, Any]:
    return {
        "product_id": row.product_id,
        "name": row.name,
        "price": row.price,
        "quantity": row.quantity,
        "section_id": row.section_id,
        "properties": dict(row.properties),
    }


def _read_row(data: dict[str, Any]) -> ProductRow:
    return ProductRow(
        product_id=None if data.get("product_id") is None else int(data["product_id"]),
        name=str(data.get("name") or ""),
        price=int(data["price"]),
        quantity=int(data.get("quantity", 1)),
        section_id=None if data.get("section_id") is None else int(data["section_id"]),
        properties=dict(data.get("properties") or {}),
    )
