"""What Kopilka keeps of the Google cards: ids, versions (the ledger's trigger moves
``version``; Google has ``synced_version``), the updates the holder was told of, failures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, Select, and_, case, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.db.tables import google_wallet_classes as classes
from kopilka.db.tables import google_wallet_objects as objects
from kopilka.wallet.google.objects import new_id

DAY = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Card:
    portal_id: int
    customer_id: int
    class_id: str
    class_hash: str | None
    object_id: str
    version: int
    synced_version: int
    notified_at: tuple[datetime, ...]
    attempts: int


def _card_query() -> Select[Any]:
    return select(
        objects.c.portal_id,
        objects.c.customer_id,
        classes.c.class_id,
        classes.c.body_hash,
        objects.c.object_id,
        objects.c.version,
        objects.c.synced_version,
        objects.c.notified_at,
        objects.c.attempts,
    ).join(classes, classes.c.portal_id == objects.c.portal_id)


def _card(row: Row[Any]) -> Card:
    return Card(
        portal_id=int(row.portal_id),
        customer_id=int(row.customer_id),
        class_id=row.class_id,
        class_hash=row.body_hash,
        object_id=row.object_id,
        version=int(row.version),
        synced_version=int(row.synced_version),
        notified_at=tuple(row.notified_at or ()),
        attempts=int(row.attempts),
    )


async def ensure_card(
    conn: AsyncConnection, issuer_id: str, portal_id: int, customer_id: int
) -> Card:
    """The customer's card, its class and object ids made up the first time."""
    await conn.execute(
        insert(classes)
        .values(portal_id=portal_id, class_id=new_id(issuer_id, "kopilka"))
        .on_conflict_do_nothing()
    )
    await conn.execute(
        insert(objects)
        .values(portal_id=portal_id, customer_id=customer_id, object_id=new_id(issuer_id, "card"))
        .on_conflict_do_nothing()
    )
    row = (
        await conn.execute(
            _card_query().where(
                objects.c.portal_id == portal_id, objects.c.customer_id == customer_id
            )
        )
    ).one()
    return _card(row)


async def due_cards(
    conn: AsyncConnection, portal_id: int, settled: datetime, now: datetime, limit: int = 100
) -> list[Card]:
    """Cards whose first unsent change is older than ``settled``, not waiting for a retry."""
    rows = await conn.execute(
        _card_query()
        .where(
            objects.c.portal_id == portal_id,
            objects.c.dirty_since <= settled,
            or_(objects.c.retry_at.is_(None), objects.c.retry_at <= now),
        )
        .order_by(objects.c.dirty_since)
        .limit(limit)
    )
    return [_card(r) for r in rows]


async def due_portals(conn: AsyncConnection, settled: datetime, now: datetime) -> list[int]:
    rows = await conn.execute(
        select(objects.c.portal_id)
        .where(
            objects.c.dirty_since <= settled,
            or_(objects.c.retry_at.is_(None), objects.c.retry_at <= now),
        )
        .distinct()
    )
    return [int(r[0]) for r in rows]


async def class_sent(conn: AsyncConnection, portal_id: int, body_hash: str, now: datetime) -> None:
    await conn.execute(
        update(classes)
        .where(classes.c.portal_id == portal_id)
        .values(body_hash=body_hash, updated_at=now)
    )


async def card_synced(
    conn: AsyncConnection, card: Card, now: datetime, notified: tuple[datetime, ...]
) -> None:
    """Google shows ``card.version``; a change made meanwhile waits anew from ``now``."""
    synced = func.greatest(objects.c.synced_version, card.version)
    await conn.execute(
        update(objects)
        .where(objects.c.portal_id == card.portal_id, objects.c.customer_id == card.customer_id)
        .values(
            synced_version=synced,
            dirty_since=case((objects.c.version > synced, literal(now)), else_=None),
            notified_at=list(notified),
            attempts=0,
            retry_at=None,
            last_error=None,
            patched_at=now,
        )
    )


async def card_failed(conn: AsyncConnection, card: Card, error: str, retry_at: datetime) -> None:
    await conn.execute(
        update(objects)
        .where(
            and_(objects.c.portal_id == card.portal_id, objects.c.customer_id == card.customer_id)
        )
        .values(attempts=objects.c.attempts + 1, retry_at=retry_at, last_error=error[:500])
    )
