"""The targeted poll of the offers list (issue 15, item 7; seed 004). A manager's edit of a list
element raises no event: Bitrix24's REST events cover CRM entities, and the universal lists
(``lists.*``) have none (b24restdocs: api-reference/lists, api-reference/events). So, besides the
one-minute sweep, Kopilka reads the elements of the open deals that have them — 20 deals to a
command, 50 commands to a ``batch``: one request per 1 000 open deals — every
``POLL_SECONDS``, and hints the deals whose elements ask for something else than when they
were last settled (:func:`kopilka.bitrix24.offers.inputs_digest`; Kopilka's own rewrites of an
element leave it as it was)."""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24.connections import Connection, active_connections
from kopilka.bitrix24.deferred import defer_sync
from kopilka.bitrix24.offers import Layout, inputs_digest, read_elements
from kopilka.bitrix24.sync import mark_dirty
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import b24_deals, b24_offer_inputs
from kopilka.process.services import Services

log = logging.getLogger("kopilka.bitrix24")

POLL_SECONDS = 15
#: open deals polled per portal and round (the most recently changed first): one request
MAX_POLLED = 1000


async def poll_offers(services: Services, connection: Connection) -> int:
    """Hint the open deals whose offers-list elements changed; returns how many."""
    layout = Layout.from_json(connection.field_map.get("offers_list"))
    if layout is None:
        return 0
    portal_id = connection.portal_id
    async with services.engine.connect() as conn:
        seen = {
            int(r.deal_id): str(r.digest)
            for r in await conn.execute(
                select(b24_offer_inputs.c.deal_id, b24_offer_inputs.c.digest)
                .join(
                    b24_deals,
                    (b24_deals.c.portal_id == b24_offer_inputs.c.portal_id)
                    & (b24_deals.c.deal_id == b24_offer_inputs.c.deal_id),
                )
                .where(
                    b24_offer_inputs.c.portal_id == portal_id,
                    b24_deals.c.semantic == "P",
                    func.cardinality(b24_deals.c.contact_ids) > 0,
                )
                .order_by(b24_deals.c.modified_at.desc().nulls_last())
                .limit(MAX_POLLED)
            )
        }
    if not seen:
        return 0
    elements = await read_elements(services.client_for(connection), layout, list(seen))
    changed = sorted(
        d for d, digest in seen.items() if inputs_digest(layout, elements, d) != digest
    )
    if not changed:
        return 0

    async def hint(conn: AsyncConnection) -> None:
        await mark_dirty(conn, portal_id, changed, "offers poll")
        await defer_sync(conn, portal_id)

    await run_in_transaction(services.engine, hint)
    log.info("offers poll of portal %s: %d deals changed in the list", portal_id, len(changed))
    return len(changed)


async def poll_all(services: Services) -> int:
    """One round over every active portal with an offers list."""
    async with services.engine.connect() as conn:
        connections = await active_connections(conn)
    found = 0
    for connection in connections:
        try:
            found += await poll_offers(services, connection)
        except Exception:  # one portal's failure must not stop the others' poll
            log.exception("offers poll of portal %s failed", connection.portal_id)
    return found
