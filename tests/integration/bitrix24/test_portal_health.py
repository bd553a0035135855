"""A portal's connection health is recorded while it is connected, and never after: a job still
running when the portal is uninstalled (its credentials and caches purged) must not bring its
row back (found by the uninstall test in CI: a sync failing on the purged tokens did)."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.bitrix24.connections import connect_webhook
from kopilka.bitrix24.errors import B24AuthError, B24TransportError
from kopilka.bitrix24.health import PortalHealth
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import b24_portal_health
from kopilka.portals.service import disconnect_portal
from tests.factories import T0


async def rows(engine: AsyncEngine, portal_id: int) -> int:
    async with engine.connect() as conn:
        found = await conn.scalar(
            select(func.count())
            .select_from(b24_portal_health)
            .where(b24_portal_health.c.portal_id == portal_id)
        )
    return int(found or 0)


async def test_health_is_recorded_while_connected_and_never_after(
    committed_engine: AsyncEngine,
) -> None:
    async def connect(conn: AsyncConnection) -> int:
        connection = await connect_webhook(
            conn,
            webhook_url="https://health.bitrix24.test/rest/1/abcdefgh12/",
            event_token="e" * 32,
            member_id="health-member",
        )
        return connection.portal_id

    portal_id = await run_in_transaction(committed_engine, connect)
    health = PortalHealth(committed_engine, portal_id, lambda: T0)
    await health.failed(B24TransportError("down", may_have_run=False))
    assert await rows(committed_engine, portal_id) == 1

    async def purge(conn: AsyncConnection) -> None:  # as an uninstall asked to clean does
        await disconnect_portal(conn, portal_id)
        await conn.execute(
            delete(b24_portal_health).where(b24_portal_health.c.portal_id == portal_id)
        )

    await run_in_transaction(committed_engine, purge)
    await health.failed(B24AuthError("portal has no stored OAuth tokens"))  # a job in flight
    await health.ok()
    assert await rows(committed_engine, portal_id) == 0
