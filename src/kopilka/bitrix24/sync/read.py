"""Step 1, read: what the portal says now about a chunk of deals, in a few batched requests
(deals, product rows, contacts; the offers list's elements; the catalog's sections)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.mapping import to_int
from kopilka.bitrix24.offers import Layout, read_elements
from kopilka.bitrix24.products import Product, needs_catalog, products_for
from kopilka.bitrix24.reader import Snapshot, read_deals
from kopilka.bitrix24.sections import resolve, section_parents
from kopilka.ledger.types import Book
from kopilka.program.fieldrefs import deal_fields_read
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
    #: every version of the portal's program, by hash: a won deal is settled again under the
    #: version it was priced by (``b24_deals.priced_by``), never re-priced by a newer one
    versions: Mapping[str, tuple[Book, Program]] = field(default_factory=dict)

    def priced(self, version: str | None) -> Scope:
        """The scope a deal is settled in: the version it was priced by, if any, else the
        program in force (``book`` and ``program`` as given)."""
        if version is None or version == self.program.hash or version not in self.versions:
            return self
        book, program = self.versions[version]
        return replace(self, book=book, program=program)


@dataclass(frozen=True)
class Chunk:
    """What one read brought: the deals as the portal shows them, and their products."""

    snap: Snapshot
    products: Mapping[int, Product] = field(default_factory=dict)


async def read_chunk(
    engine: AsyncEngine,
    client: Bitrix24Client,
    scope: Scope,
    deal_ids: list[int],
    *,
    rows_per_deal: bool = False,
) -> Chunk:
    """The chunk as the portal shows it; ``rows_per_deal``: the portal is known to refuse a
    list of owners for product rows (``snap.rows_per_deal`` says if it was found out now)."""
    program = scope.program
    snap = await read_deals(
        client,
        deal_ids,
        deal_fields=deal_selects(program),
        contact_fields=contact_selects(program),
        rows_per_deal=rows_per_deal,
    )
    snap.elements = await read_elements(client, scope.layout, deal_ids) if scope.layout else {}
    sections, properties = needs_catalog(program)
    if not sections:
        return Chunk(snap)
    ids = [to_int(r.raw.get("productId")) or 0 for rs in snap.rows.values() for r in rs]
    products = await products_for(engine, client, scope.portal_id, ids, properties=properties)
    return Chunk(snap, await in_named_sections(engine, client, scope, products))


async def in_named_sections(
    engine: AsyncEngine, client: Bitrix24Client, scope: Scope, products: Mapping[int, Product]
) -> Mapping[int, Product]:
    """The products with each section replaced by the section of the program it lies in (a
    subsection of an eligible section is eligible); the tree is read only when a product sits
    in a section the program does not name."""
    program = scope.program
    if program.eligible_sections is None:
        return products
    named = frozenset(s.id for s in program.catalog_sections.values())
    if all(p.section_id is None or p.section_id in named for p in products.values()):
        return products
    parents = await section_parents(engine, client, scope.portal_id)
    return resolve(products, parents, named)


def deal_selects(program: Program) -> list[str]:
    """Deal fields read besides the standard ones (``program.fieldrefs.deal_fields_read``)."""
    return sorted(deal_fields_read(program))


def contact_selects(program: Program) -> list[str]:
    wanted = {v for v in program.fields.contact.model_dump().values() if v}
    return sorted(wanted | {"UF_*"})


def contact_name(snap: Snapshot, contact_id: int) -> str:
    info = snap.contacts.get(contact_id, {})
    return " ".join(str(info.get(k) or "") for k in ("NAME", "LAST_NAME")).strip()
