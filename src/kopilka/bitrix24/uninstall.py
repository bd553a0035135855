"""``ONAPPUNINSTALL`` (reference §1.2.6): the application was deleted from the portal.

Its ``application_token`` is its only proof (checked by :mod:`.events` before this runs). The
connection is marked uninstalled at once: no job calls the portal any more, the pages opened
inside it lose their sessions. What else goes depends on ``KOPILKA_B24_UNINSTALL`` and on the
administrator's choice in the portal (``data[CLEAN]``, «удалить данные приложения»):

* ``clean`` (default): purged when the administrator asked for it, kept otherwise;
* ``keep``: kept, whatever was asked (a re-install picks up where the portal left off);
* ``purge``: purged always.

Purged means the connection left as ``kopilka portal disconnect`` leaves it (status
``disconnected``: its credentials erased), its application token erased too (nothing the
portal sent before is believed again), and what Kopilka only caches of it (catalog, sections, the
pacing and health records, the deals waiting for a sync). Never purged: the ledger — points are
the customers' money, and a customer keeps them whatever happens to the app — nor the record
of the deals it was priced on, the program and its history, the cards. docs/bitrix24.md says so.
"""

from __future__ import annotations

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24.connections import Connection, mark_uninstalled
from kopilka.db.tables import (
    b24_app_sessions,
    b24_catalog_sections,
    b24_connections,
    b24_dirty_deals,
    b24_portal_health,
    b24_products,
    b24_rate_limits,
)
from kopilka.process.services import Services

#: what Kopilka only keeps as a copy of the portal's data, or for calling it
CACHES = (b24_products, b24_catalog_sections, b24_rate_limits, b24_portal_health, b24_dirty_deals)


def purges(policy: str, clean: str) -> bool:
    """Whether this uninstall purges: ``policy`` is the setting, ``clean`` the event's flag."""
    asked = clean.strip().upper() in ("1", "Y", "TRUE")
    return policy == "purge" or (policy == "clean" and asked)


async def app_uninstalled(
    conn: AsyncConnection, services: Services, connection: Connection, form: dict[str, str]
) -> bool:
    """Record the uninstall (and purge, per :func:`purges`); True when purged."""
    await mark_uninstalled(conn, connection.portal_id)
    services.event_portals.pop(connection.member_id, None)
    portal_id = connection.portal_id
    await conn.execute(delete(b24_app_sessions).where(b24_app_sessions.c.portal_id == portal_id))
    if not purges(services.settings.b24_uninstall, form.get("data[CLEAN]", "")):
        return False
    await conn.execute(
        update(b24_connections)
        .where(b24_connections.c.portal_id == portal_id)
        .values(
            status="disconnected",
            access_token=None,
            refresh_token=None,
            token_expires_at=None,
            webhook_url=None,
            application_token="",
        )
    )
    for table in CACHES:
        await conn.execute(delete(table).where(table.c.portal_id == portal_id))
    return True
