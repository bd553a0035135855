"""What the app page shows an administrator about the portal's connection: its health (the
last good and failed calls), how its events fare (refused ones, the sync's backlog and its
last run) and what provisioning recorded. All read from Kopilka's own tables: opening the
page costs the portal nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24.connections import get_connection
from kopilka.bitrix24.offline.queries import Delivery, delivery_of
from kopilka.bitrix24.outbox import pending_count
from kopilka.bitrix24.sync import dirty_count
from kopilka.db.tables import (
    b24_connections,
    b24_portal_health,
    b24_rejected_events,
    b24_sync_state,
)


@dataclass(frozen=True, slots=True)
class Status:
    mode: str
    status: str
    domain: str
    connected_at: datetime | None
    last_ok_at: datetime | None
    last_error_at: datetime | None
    last_error_class: str | None
    rejected: int  # refused requests naming this portal, as recorded (bounded)
    last_rejected_at: datetime | None
    dirty: int  # deals waiting for a sync
    writes: int  # portal writes waiting to be sent
    last_sync_at: datetime | None
    last_sweep_at: datetime | None
    provisioned_at: datetime | None
    fields: dict[str, dict[str, str]]  # entity -> role -> FIELD_NAME, as provisioned
    delivery: Delivery  # online, or offline: the portal's queue read by Kopilka

    @property
    def healthy(self) -> bool:
        if self.last_error_at is None:
            return True
        return self.last_ok_at is not None and self.last_ok_at > self.last_error_at


def _fields(field_map: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {
        entity: {str(role): str(name) for role, name in roles.items()}
        for entity, roles in field_map.items()
        if entity in ("contact", "deal") and isinstance(roles, dict)
    }


async def portal_status(conn: AsyncConnection, portal_id: int) -> Status:
    connection = await get_connection(conn, portal_id)
    c, h, s = b24_connections.c, b24_portal_health.c, b24_sync_state.c
    times = (
        await conn.execute(select(c.connected_at, c.provisioned_at).where(c.portal_id == portal_id))
    ).one()
    health = (
        await conn.execute(
            select(h.last_ok_at, h.last_error_at, h.last_error_class).where(
                h.portal_id == portal_id
            )
        )
    ).first()
    sync = (
        await conn.execute(select(s.last_sync_at, s.last_sweep_at).where(s.portal_id == portal_id))
    ).first()
    r = b24_rejected_events.c
    rejected = (
        await conn.execute(
            select(func.count(), func.max(r.received_at)).where(r.member_id == connection.member_id)
        )
    ).one()
    return Status(
        mode=connection.mode,
        status=connection.status,
        domain=connection.domain,
        connected_at=times.connected_at,
        last_ok_at=health.last_ok_at if health else None,
        last_error_at=health.last_error_at if health else None,
        last_error_class=health.last_error_class if health else None,
        rejected=int(rejected[0] or 0),
        last_rejected_at=rejected[1],
        dirty=await dirty_count(conn, portal_id),
        writes=await pending_count(conn, portal_id),
        last_sync_at=sync.last_sync_at if sync else None,
        last_sweep_at=sync.last_sweep_at if sync else None,
        provisioned_at=times.provisioned_at,
        fields=_fields(connection.field_map),
        delivery=await delivery_of(conn, portal_id),
    )
