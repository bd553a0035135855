"""A portal's event delivery (``b24_event_delivery``, migration 0018): its mode, the batch of
the offline queue it has reserved and not cleared, and how its reading went."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.db.tables import b24_connections, b24_event_delivery

MODES = ("online", "offline")


@dataclass(frozen=True, slots=True)
class Delivery:
    portal_id: int
    mode: str = "online"
    process_id: str | None = None
    polled_at: datetime | None = None
    processed: int = 0
    last_error: str | None = None


async def delivery_of(conn: AsyncConnection, portal_id: int) -> Delivery:
    """The portal's delivery; ``online`` when it never chose (no row)."""
    row = (
        await conn.execute(
            select(b24_event_delivery).where(b24_event_delivery.c.portal_id == portal_id)
        )
    ).first()
    if row is None:
        return Delivery(portal_id)
    m = row._mapping
    return Delivery(
        portal_id,
        m["mode"],
        m["process_id"],
        m["polled_at"],
        int(m["processed"]),
        m["last_error"],
    )


async def store_mode(conn: AsyncConnection, portal_id: int, mode: str, now: datetime) -> None:
    assert mode in MODES
    await conn.execute(
        insert(b24_event_delivery)
        .values(portal_id=portal_id, mode=mode, changed_at=now, processed=0)
        .on_conflict_do_update(index_elements=["portal_id"], set_={"mode": mode, "changed_at": now})
    )


async def _ensure_row(conn: AsyncConnection, portal_id: int, now: datetime) -> None:
    await conn.execute(
        insert(b24_event_delivery)
        .values(portal_id=portal_id, mode="online", changed_at=now, processed=0)
        .on_conflict_do_nothing(index_elements=["portal_id"])
    )


async def remember_process(
    conn: AsyncConnection, portal_id: int, process_id: str, now: datetime
) -> None:
    """The batch just reserved: stored (and committed by the caller) before it is processed."""
    await _ensure_row(conn, portal_id, now)
    await conn.execute(
        update(b24_event_delivery)
        .where(b24_event_delivery.c.portal_id == portal_id)
        .values(process_id=process_id, reserved_at=now)
    )


async def forget_process(conn: AsyncConnection, portal_id: int, process_id: str) -> None:
    await conn.execute(
        update(b24_event_delivery)
        .where(
            b24_event_delivery.c.portal_id == portal_id,
            b24_event_delivery.c.process_id == process_id,
        )
        .values(process_id=None, reserved_at=None)
    )


async def note_poll(
    conn: AsyncConnection, portal_id: int, now: datetime, processed: int, error: str | None
) -> None:
    await _ensure_row(conn, portal_id, now)
    await conn.execute(
        update(b24_event_delivery)
        .where(b24_event_delivery.c.portal_id == portal_id)
        .values(
            polled_at=now,
            processed=b24_event_delivery.c.processed + processed,
            last_error=error[:500] if error else None,
        )
    )


async def due_portals(conn: AsyncConnection, now: datetime, every_seconds: float) -> list[int]:
    """Active app portals delivering offline whose queue was not read for ``every_seconds``
    (or that hold a batch not cleared)."""
    rows = await conn.execute(
        select(b24_event_delivery.c.portal_id)
        .join(b24_connections, b24_connections.c.portal_id == b24_event_delivery.c.portal_id)
        .where(
            b24_connections.c.status == "active",
            b24_connections.c.mode == "app",
            or_(
                b24_event_delivery.c.mode == "offline",
                b24_event_delivery.c.process_id.is_not(None),
            ),
            or_(
                b24_event_delivery.c.polled_at.is_(None),
                b24_event_delivery.c.polled_at <= now - timedelta(seconds=every_seconds),
            ),
        )
        .order_by(b24_event_delivery.c.portal_id)
    )
    return [int(r.portal_id) for r in rows]
