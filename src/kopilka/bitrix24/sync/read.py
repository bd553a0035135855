"""Step 1, read: what the portal says now about a chunk of deals, in a few batched requests
(deals, product rows, contacts; the offers list's elements; the catalog's sections)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.mapping import to_int
from kopilka.bitrix24.offers import Layout, read_elements
from kopilka.bitrix24.products import Product, needs_catalog, products_for
from kopilka.bitrix24.reader import Snapshot, read_deals
from kopilka.ledger.types import Book
from kopilka.program.model import Program


@dataclass(frozen=True)
class Scope:
    """What every step of a portal's sync shares: whose deals, under which program."""

    portal_id: int
    book: Book
    program: Program
    #: the offers list of per-contact offers (R-13), when the program has discounts
    layout: Layout | None = None
    #: explain every ledger change on the deal's timeline
    comments: bool = True


@dataclass(frozen=True)
class Chunk:
    """What one read brought: the deals as the portal shows them, and their products."""

    snap: Snapshot
    products: Mapping[int, Product] = field(default_factory=dict)


async def read_chunk(
    engine: AsyncEngine, client: Bitrix24Client, scope: Scope, deal_ids: list[int]
) -> Chunk:
    program = scope.program
    snap = await read_deals(
        client,
        deal_ids,
        deal_fields=deal_selects(program),
        contact_fields=contact_selects(program),
    )
    snap.elements = await read_elements(client, scope.layout, deal_ids) if scope.layout else {}
    sections, properties = needs_catalog(program)
    if not sections:
        return Chunk(snap)
    ids = [to_int(r.raw.get("productId")) or 0 for rs in snap.rows.values() for r in rs]
    products = await products_for(engine, client, scope.portal_id, ids, properties=properties)
    return Chunk(snap, products)


def deal_selects(program: Program) -> list[str]:
    """Deal fields read besides the standard ones: the points-to-pay field, and the fields
    Kopilka and the data transfer write (to compare before writing)."""
    wanted = {v for v in program.fields.deal.model_dump().values() if v}
    wanted |= {c.to for c in program.transfer.product_to_deal if c.to.startswith("UF_")}
    return sorted(w for w in wanted if w)


def contact_selects(program: Program) -> list[str]:
    wanted = {v for v in program.fields.contact.model_dump().values() if v}
    return sorted(wanted | {"UF_*"})


def contact_name(snap: Snapshot, contact_id: int) -> str:
    info = snap.contacts.get(contact_id, {})
    return " ".join(str(info.get(k) or "") for k in ("NAME", "LAST_NAME")).strip()
