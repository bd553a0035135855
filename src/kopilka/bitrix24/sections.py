"""The catalog's section tree (seed 001, "only goods from the needed categories"): a product in a
subsection of a section the program names counts as that section.

A product's ``SECTION_ID`` (``crm.product.list``) is an infoblock section of the CRM catalog, the
same sections ``crm.productsection.list`` lists with their parent in ``SECTION_ID``. The tree is
read once per portal and kept in ``b24_catalog_sections``: the section events
(ONCRMPRODUCTSECTIONADD/UPDATE/DELETE) mark it stale, and a tree older than a day is read again
(a missed event heals). It is read only when a product sits in a section the program does not
name, so a portal whose products sit in named sections pays no request for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.mapping import to_int
from kopilka.bitrix24.products import MAX_AGE, Product
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import b24_catalog_sections

#: the section tree changed: the cached one goes stale
SECTION_EVENTS = (
    "ONCRMPRODUCTSECTIONADD",
    "ONCRMPRODUCTSECTIONUPDATE",
    "ONCRMPRODUCTSECTIONDELETE",
)
Parents = dict[int, int | None]  # section id -> its parent (None at the top)


def counted_section(
    section_id: int | None, parents: Mapping[int, int | None], named: frozenset[int]
) -> int | None:
    """The section a product in ``section_id`` counts as: the nearest of the section itself and
    its ancestors that the program names; the section itself when none is named (or unknown)."""
    current = section_id
    seen: set[int] = set()
    while current is not None and current not in seen:
        if current in named:
            return current
        seen.add(current)  # a loop in a broken tree ends the walk
        current = parents.get(current)
    return section_id


def resolve(
    products: Mapping[int, Product], parents: Mapping[int, int | None], named: frozenset[int]
) -> dict[int, Product]:
    """The products with each section replaced by the named section it counts as."""
    return {
        pid: replace(p, section_id=counted_section(p.section_id, parents, named))
        for pid, p in products.items()
    }


async def mark_stale(conn: AsyncConnection, portal_id: int) -> None:
    await conn.execute(
        update(b24_catalog_sections)
        .where(b24_catalog_sections.c.portal_id == portal_id)
        .values(stale=True)
    )


async def cached(conn: AsyncConnection, portal_id: int) -> Parents | None:
    raw = await conn.scalar(
        select(b24_catalog_sections.c.parents).where(
            b24_catalog_sections.c.portal_id == portal_id,
            b24_catalog_sections.c.stale.is_(False),
            b24_catalog_sections.c.fetched_at > func.now() - MAX_AGE,
        )
    )
    if raw is None:
        return None
    return {int(k): (None if v is None else int(v)) for k, v in dict(raw).items()}


async def section_parents(engine: AsyncEngine, client: Bitrix24Client, portal_id: int) -> Parents:
    """The portal's section tree: from the cache, or read (keyset pages of 50) and kept."""
    async with engine.connect() as conn:
        found = await cached(conn, portal_id)
    if found is not None:
        return found
    parents: Parents = {}
    async for record in client.list_all(
        "crm.productsection.list", {"select": ["ID", "SECTION_ID"]}
    ):
        parents[int(record["ID"])] = to_int(record.get("SECTION_ID")) or None

    async def store(conn: AsyncConnection) -> None:
        stmt = insert(b24_catalog_sections).values(
            portal_id=portal_id,
            parents={str(k): v for k, v in parents.items()},
            fetched_at=func.now(),
            stale=False,
        )
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["portal_id"],
                set_={"parents": stmt.excluded.parents, "fetched_at": func.now(), "stale": False},
            )
        )

    await run_in_transaction(engine, store)
    return parents
