"""The catalog as the deal sync needs it: each product's section (R-05) and its code and
properties (R-15), cached in ``b24_products``.

Products change rarely and deals name the same products again and again, so a product is read
once and kept until the portal says it changed (ONCRMPRODUCTUPDATE / ONCRMPRODUCTDELETE mark it
stale). Missing or stale products of a chunk of deals are read together: their ``crm.product.list``
pages and the property list (to know each ``PROPERTY_<id>``'s code) go in one batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.mapping import to_int
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import b24_products
from kopilka.program.model import Program

PAGE = 50
MAX_AGE = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Product:
    id: int
    section_id: int | None
    name: str = ""
    code: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)  # PROPERTY_<id> and _<CODE>

    def values(self) -> dict[str, Any]:
        """What a program may copy from the product: CODE and PROPERTY_<id or code>."""
        return {**self.properties, "CODE": self.code}


def property_value(raw: Any) -> Any:
    """``{"valueId": "7", "value": "x"}`` → ``"x"``; a multiple property → a list; unset → None."""
    if raw is None:
        return None
    if isinstance(raw, list):
        return [property_value(item) for item in raw]
    if isinstance(raw, Mapping):
        return raw.get("value")
    return raw


def parse_product(record: Mapping[str, Any], codes: Mapping[str, str]) -> Product:
    """A ``crm.product.list`` record; ``codes`` maps property IDs to their codes."""
    properties: dict[str, Any] = {}
    for key, raw in record.items():
        if not key.startswith("PROPERTY_"):
            continue
        value = property_value(raw)
        properties[key] = value
        code = codes.get(key.removeprefix("PROPERTY_"))
        if code:
            properties[f"PROPERTY_{code}"] = value
    return Product(
        id=int(record["ID"]),
        section_id=to_int(record.get("SECTION_ID")) or None,
        name=str(record.get("NAME") or ""),
        code=str(record["CODE"]) if record.get("CODE") else None,
        properties=properties,
    )


async def mark_stale(conn: AsyncConnection, portal_id: int, product_ids: Sequence[int]) -> None:
    await conn.execute(
        update(b24_products)
        .where(b24_products.c.portal_id == portal_id, b24_products.c.product_id.in_(product_ids))
        .values(stale=True)
    )


async def cached(
    conn: AsyncConnection, portal_id: int, product_ids: Sequence[int]
) -> dict[int, Product]:
    rows = await conn.execute(
        select(b24_products).where(
            b24_products.c.portal_id == portal_id,
            b24_products.c.product_id.in_(list(product_ids)),
            b24_products.c.stale.is_(False),
            b24_products.c.fetched_at > func.now() - MAX_AGE,  # a missed product event heals
        )
    )
    return {
        int(r.product_id): Product(
            int(r.product_id), r.section_id, r.name, r.code, dict(r.properties)
        )
        for r in rows
    }


def needs_catalog(program: Program) -> tuple[bool, bool]:
    """(sections, properties): whether the program looks at products at all, and at their
    properties. A program that does neither costs no catalog request."""
    copies = program.transfer.product_to_deal
    properties = any(c.from_ != "NAME" and c.from_ != "PRICE" for c in copies)
    return program.eligible_sections is not None or bool(copies), properties


async def products_for(
    engine: AsyncEngine,
    client: Bitrix24Client,
    portal_id: int,
    product_ids: Sequence[int],
    *,
    properties: bool = True,
) -> dict[int, Product]:
    """The products named by a chunk of deals: from the cache, reading what is missing in one
    batch. A product the portal no longer has is simply absent (its rows count as unknown
    section). ``properties=False`` skips the property list (property codes stay unknown)."""
    ids = sorted({int(p) for p in product_ids if p})
    if not ids:
        return {}
    async with engine.connect() as conn:
        found = await cached(conn, portal_id, ids)
    missing = [p for p in ids if p not in found]
    if not missing:
        return found
    commands: dict[str, tuple[str, Mapping[str, Any]]] = {}
    if properties:
        commands["props"] = (
            "crm.product.property.list",
            {"select": ["ID", "CODE"], "start": -1},
        )
    for n in range(0, len(missing), PAGE):
        commands[f"p{n // PAGE}"] = (
            "crm.product.list",
            {
                "filter": {"ID": missing[n : n + PAGE]},
                "select": ["ID", "NAME", "CODE", "SECTION_ID", "PROPERTY_*"],
                "start": -1,
            },
        )
    results = await client.batch_many(commands)
    codes = {str(p["ID"]): str(p.get("CODE") or "") for p in results.pop("props", None) or []}
    fresh = [parse_product(r, codes) for page in results.values() for r in page or []]

    async def store(conn: AsyncConnection) -> None:
        if not fresh:
            return
        stmt = insert(b24_products).values(
            [
                {
                    "portal_id": portal_id,
                    "product_id": p.id,
                    "section_id": p.section_id,
                    "name": p.name,
                    "code": p.code,
                    "properties": p.properties,
                    "stale": False,
                }
                for p in fresh
            ]
        )
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["portal_id", "product_id"],
                set_={
                    "section_id": stmt.excluded.section_id,
                    "name": stmt.excluded.name,
                    "code": stmt.excluded.code,
                    "properties": stmt.excluded.properties,
                    "stale": False,
                    "fetched_at": stmt.excluded.fetched_at,
                },
            )
        )

    await run_in_transaction(engine, store)
    return found | {p.id: p for p in fresh}
