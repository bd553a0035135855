"""The offline reader's job names, locks and deferral (``kopilka.process.queue``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.process.queue import defer_once

OFFLINE_TASK = "bitrix24.portal.offline"
TICK_TASK = "bitrix24.offline"
#: the online event a portal sends when its offline queue has new records (§6.7)
SIGNAL_EVENT = "ONOFFLINEEVENT"


def offline_lock(portal_id: int) -> str:
    return f"bitrix24.offline:{portal_id}"


async def defer_offline(conn: AsyncConnection, portal_id: int) -> bool:
    """Have the portal's queue read soon, in the caller's transaction; False if a read is
    already waiting. One reader per portal at a time (the same lock)."""
    return await defer_once(conn, OFFLINE_TASK, offline_lock(portal_id), portal_id=portal_id)
