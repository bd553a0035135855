"""What the connector asks the queue to do later: its tasks' names and locks, and the
deferrals, made in the caller's transaction (``kopilka.process.queue``). The tasks themselves are in
:mod:`kopilka.bitrix24.tasks`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.process.queue import defer_once

SYNC_TASK = "bitrix24.portal.sync"
DAILY_TASK = "bitrix24.portal.daily"


def sync_lock(portal_id: int) -> str:
    return f"bitrix24.sync:{portal_id}"


def daily_lock(portal_id: int) -> str:
    return f"bitrix24.daily:{portal_id}"


async def defer_sync(conn: AsyncConnection, portal_id: int, *, sweep: bool = False) -> bool:
    """Defer the portal's sync in the caller's transaction; False if one is already waiting."""
    return await defer_once(conn, SYNC_TASK, sync_lock(portal_id), portal_id=portal_id, sweep=sweep)


async def defer_daily(conn: AsyncConnection, portal_id: int) -> bool:
    """Defer the portal's daily run in the caller's transaction; False if one is waiting."""
    return await defer_once(conn, DAILY_TASK, daily_lock(portal_id), portal_id=portal_id)
