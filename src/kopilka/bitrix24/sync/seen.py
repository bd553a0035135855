"""What Kopilka records of each deal as it settles: the snapshot (``b24_deals``), each contact's
share of a won deal (``b24_deal_shares``, the base of histories, levels and totals), the catalog
sections it was won with, and the histories its contacts are judged by."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24.mapping import parse_datetime, to_int
from kopilka.bitrix24.products import Product
from kopilka.bitrix24.standing import AsOf, histories
from kopilka.db.tables import b24_deal_shares, b24_deals
from kopilka.domain.deal import CustomerHistory, Deal
from kopilka.domain.eligibility import basket
from kopilka.domain.split import split_total
from kopilka.program.model import Program

_USES_HISTORY: dict[str, bool] = {}


def uses_history(program: Program) -> bool:
    """Whether the program looks at customers' past deals at all (levels, accumulative
    discounts, a condition naming ``history``); if not, no history is read per deal."""
    key = program.hash or program.program
    if key not in _USES_HISTORY:
        _USES_HISTORY[key] = (
            program.levels is not None
            or bool(program.discounts)
            or "history" in program.model_dump_json()
        )
    return _USES_HISTORY[key]


async def deal_histories(
    conn: AsyncConnection,
    portal_id: int,
    program: Program,
    deal: Deal,
    contact_ids: list[int],
    now: datetime,
) -> dict[int, CustomerHistory]:
    """The contacts' histories as the deal sees them (a won deal: as of its close, so that a
    replayed event cannot change its level), or none if the program never looks at them."""
    if not uses_history(program):
        return {}
    as_of = AsOf(deal.closed_at, deal.id) if deal.stage == "won" and deal.closed_at else None
    return dict(
        await histories(
            conn, portal_id, program, contact_ids, now=now, exclude_deal=deal.id, as_of=as_of
        )
    )


async def snapshot(
    conn: AsyncConnection,
    portal_id: int,
    deal_id: int,
    record: dict[str, Any] | None,
    contact_ids: list[int],
    amount: int,
    applied: dict[str, list[int]],
    previous: Any,
    won_sections: dict[str, int | None] | None = None,
) -> None:
    row = snapshot_row(deal_id, record, contact_ids, amount, applied, previous, won_sections)
    await store_snapshots(conn, portal_id, [row])


def snapshot_row(
    deal_id: int,
    record: dict[str, Any] | None,
    contact_ids: list[int],
    amount: int,
    applied: dict[str, list[int]],
    previous: Any,
    won_sections: dict[str, int | None] | None = None,
) -> dict[str, Any]:
    """What is recorded of the deal as seen now (a deleted one keeps what was last seen)."""
    if record is None:
        values: dict[str, Any] = {
            "category_id": previous.category_id if previous else 0,
            "stage_id": previous.stage_id if previous else "",
            "semantic": "D",
            "amount": previous.amount if previous else 0,
            "contact_ids": contact_ids,
            "closed_at": previous.closed_at if previous else None,
            "modified_at": previous.modified_at if previous else None,
        }
    else:
        values = {
            "category_id": to_int(record.get("CATEGORY_ID")) or 0,
            "stage_id": str(record.get("STAGE_ID") or ""),
            "semantic": str(record.get("STAGE_SEMANTIC_ID") or "P"),
            "amount": amount,
            "contact_ids": contact_ids,
            "closed_at": parse_datetime(record.get("CLOSEDATE")),
            "modified_at": parse_datetime(record.get("DATE_MODIFY")),
        }
    return values | {"deal_id": deal_id, "applied_discount": applied, "won_sections": won_sections}


async def store_snapshots(
    conn: AsyncConnection, portal_id: int, rows: Sequence[dict[str, Any]]
) -> None:
    if not rows:
        return
    stmt = insert(b24_deals).values([{"portal_id": portal_id, **r} for r in rows])
    columns = [k for k in rows[0] if k != "deal_id"]
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["portal_id", "deal_id"],
            set_={c: stmt.excluded[c] for c in columns} | {"synced_at": func.now()},
        )
    )


def with_catalog(
    deal: Deal, products: Mapping[int, Product], previous: Any
) -> tuple[Deal, dict[str, int | None] | None]:
    """The deal's rows with their products' sections and properties. A deal that was already
    won keeps the sections it was counted with (a product moved later does not change its
    points); the sections of a newly won deal are remembered."""
    frozen: Mapping[str, int | None] = (
        previous.won_sections
        if previous is not None and previous.semantic == "S" and previous.won_sections
        else {}
    )
    rows = []
    for row in deal.rows:
        product = products.get(row.product_id or 0)
        key = str(row.product_id or 0)
        section = frozen[key] if key in frozen else (product.section_id if product else None)
        values = product.values() if product else {}
        rows.append(replace(row, section_id=section, properties=values))
    deal = replace(deal, rows=tuple(rows))
    if deal.stage != "won":
        return deal, None
    return deal, {str(r.product_id or 0): r.section_id for r in deal.rows}


async def shares(
    conn: AsyncConnection, portal_id: int, program: Program, deals: Mapping[int, Deal | None]
) -> None:
    """Each contact's share of each deal while it is won (the base of histories and totals)."""
    if not deals:
        return
    await conn.execute(
        delete(b24_deal_shares).where(
            b24_deal_shares.c.portal_id == portal_id, b24_deal_shares.c.deal_id.in_(list(deals))
        )
    )
    rows = []
    for deal_id, deal in sorted(deals.items()):
        if deal is None or deal.stage != "won" or deal.closed_at is None or not deal.contacts:
            continue
        amounts = split_total(program.split, deal.contacts, basket(program, deal).order_amount)
        rows += [
            {
                "portal_id": portal_id,
                "deal_id": deal_id,
                "contact_id": contact_id,
                "category_id": deal.pipeline_id,
                "closed_at": deal.closed_at,
                "amount": amount,
            }
            for contact_id, amount in amounts.items()
        ]
    if rows:
        await conn.execute(insert(b24_deal_shares).values(rows))
