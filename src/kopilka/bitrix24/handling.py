"""What a portal event does, however it came: POSTed to ``/b24/events`` or read from the
portal's offline queue (:mod:`kopilka.bitrix24.offline`). Every effect is a hint — a deal marked
dirty, a contact or product marked, a job deferred — so handling one event twice does nothing
twice: the sync settles a deal against the ledger, whatever woke it."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24.deferred import defer_sync
from kopilka.bitrix24.products import mark_stale
from kopilka.bitrix24.sections import SECTION_EVENTS
from kopilka.bitrix24.sections import mark_stale as mark_sections_stale
from kopilka.bitrix24.sync import mark_dirty, mark_open_deals_of
from kopilka.db.tables import BIGINT_MAX
from kopilka.notify.deferred import defer_cards
from kopilka.notify.service import mark_contacts

DEAL_EVENTS = {"ONCRMDEALADD", "ONCRMDEALUPDATE", "ONCRMDEALDELETE"}
PRODUCT_EVENTS = {"ONCRMPRODUCTUPDATE", "ONCRMPRODUCTDELETE"}  # the catalog cache is stale
#: bonus cards (kopilka.cards.service); an update also hints the contact's open deals
CONTACT_EVENTS = {"ONCRMCONTACTADD", "ONCRMCONTACTUPDATE"}
HINT_EVENTS = DEAL_EVENTS | PRODUCT_EVENTS | CONTACT_EVENTS | set(SECTION_EVENTS)


def parse_id(raw: object) -> int | None:
    """An event's ``FIELDS.ID``: None when absent; ASCII digits within BIGINT (a JSON number
    from the offline queue as well), else ValueError."""
    if raw is None or raw == "":
        return None
    text = str(raw) if isinstance(raw, int | str) and not isinstance(raw, bool) else "?"
    if not re.fullmatch(r"[0-9]{1,19}", text) or not 0 < int(text) <= BIGINT_MAX:
        raise ValueError("data[FIELDS][ID] is not an id")
    return int(text)


async def apply_event(
    conn: AsyncConnection, portal_id: int, event: str, item_id: int | None
) -> bool:
    """Record the hints ``event`` (upper case) calls for, in the caller's transaction; False
    when Kopilka has nothing to do with it."""
    if event in DEAL_EVENTS:
        if item_id is not None:
            await mark_dirty(conn, portal_id, [item_id], event.lower())
            await defer_sync(conn, portal_id)
    elif event in PRODUCT_EVENTS:
        if item_id is not None:
            await mark_stale(conn, portal_id, [item_id])
    elif event in SECTION_EVENTS:
        await mark_sections_stale(conn, portal_id)
    elif event in CONTACT_EVENTS:
        if item_id is not None:
            await mark_contacts(conn, portal_id, [item_id])
            await defer_cards(conn, portal_id)
            if event == "ONCRMCONTACTUPDATE" and await mark_open_deals_of(
                conn, portal_id, [item_id], event.lower()
            ):
                await defer_sync(conn, portal_id)
    else:
        return False
    return True
