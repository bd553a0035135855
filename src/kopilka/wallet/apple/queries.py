"""The Apple Wallet tables read and written: passes, links, devices and their registrations."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.db.tables import (
    wallet_apple_devices as devices,
)
from kopilka.db.tables import (
    wallet_apple_links as links,
)
from kopilka.db.tables import (
    wallet_apple_passes as passes,
)
from kopilka.db.tables import (
    wallet_apple_registrations as registrations,
)


@dataclass(frozen=True, slots=True)
class PassRow:
    id: int
    portal_id: int
    customer_id: int
    serial: str
    auth_token: str  # decrypted
    version: int
    updated_at: datetime


_COLUMNS = (
    passes.c.id,
    passes.c.portal_id,
    passes.c.customer_id,
    passes.c.serial,
    passes.c.auth_token,
    passes.c.version,
    passes.c.updated_at,
)


def _row(r: object) -> PassRow:
    m = r._mapping  # type: ignore[attr-defined]
    return PassRow(
        int(m["id"]),
        int(m["portal_id"]),
        int(m["customer_id"]),
        m["serial"],
        m["auth_token"],
        int(m["version"]),
        m["updated_at"],
    )


async def pass_of(conn: AsyncConnection, portal_id: int, customer_id: int) -> PassRow:
    """The customer's pass, made on first use (a random serial and authentication token)."""
    await conn.execute(
        insert(passes)
        .values(
            portal_id=portal_id,
            customer_id=customer_id,
            serial=secrets.token_urlsafe(24),
            auth_token=secrets.token_urlsafe(32),
        )
        .on_conflict_do_nothing(index_elements=["portal_id", "customer_id"])
    )
    row = (
        await conn.execute(
            select(*_COLUMNS).where(
                passes.c.portal_id == portal_id, passes.c.customer_id == customer_id
            )
        )
    ).one()
    return _row(row)


async def pass_by_serial(conn: AsyncConnection, serial: str) -> PassRow | None:
    row = (await conn.execute(select(*_COLUMNS).where(passes.c.serial == serial))).first()
    return _row(row) if row is not None else None


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def new_link(conn: AsyncConnection, pass_id: int, now: datetime, days: int) -> str:
    """A token for a link to the pass (stored hashed; valid ``days``)."""
    token = secrets.token_urlsafe(32)
    await conn.execute(
        insert(links).values(
            token_hash=_hash(token),
            pass_id=pass_id,
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
    )
    return token


async def pass_by_link(conn: AsyncConnection, token: str, now: datetime) -> PassRow | None:
    row = (
        await conn.execute(
            select(*_COLUMNS)
            .join(links, links.c.pass_id == passes.c.id)
            .where(links.c.token_hash == _hash(token), links.c.expires_at > now)
        )
    ).first()
    return _row(row) if row is not None else None


async def register(conn: AsyncConnection, library_id: str, push_token: str, pass_id: int) -> bool:
    """Record the device (its push token as it now says) and its pass; False: known already."""
    stmt = insert(devices).values(library_id=library_id, push_token=push_token)
    device_id = await conn.scalar(
        stmt.on_conflict_do_update(
            index_elements=["library_id"],
            set_={"push_token": stmt.excluded.push_token, "updated_at": func.now()},
        ).returning(devices.c.id)
    )
    added = await conn.execute(
        insert(registrations)
        .values(device_id=device_id, pass_id=pass_id)
        .on_conflict_do_nothing()
        .returning(registrations.c.pass_id)
    )
    return added.first() is not None


async def unregister(conn: AsyncConnection, library_id: str, pass_id: int) -> None:
    device_id = await conn.scalar(select(devices.c.id).where(devices.c.library_id == library_id))
    if device_id is None:
        return
    await conn.execute(
        delete(registrations).where(
            registrations.c.device_id == device_id, registrations.c.pass_id == pass_id
        )
    )
    await _drop_if_unused(conn, int(device_id))


async def _drop_if_unused(conn: AsyncConnection, device_id: int) -> None:
    used = select(registrations.c.pass_id).where(registrations.c.device_id == device_id).exists()
    await conn.execute(delete(devices).where(devices.c.id == device_id, ~used))


async def forget_push_token(conn: AsyncConnection, push_token: str) -> int:
    """APNs said the token is gone (410): the devices with it and their registrations go."""
    result = await conn.execute(
        delete(devices).where(devices.c.push_token == push_token).returning(devices.c.id)
    )
    return len(result.all())


async def serials_since(
    conn: AsyncConnection, library_id: str, pass_type_ok: bool, since: int | None
) -> tuple[list[str], int]:
    """The serials of the device's passes changed after the tag ``since`` (all of them without
    one) and the new tag (the highest version seen)."""
    if not pass_type_ok:
        return [], since or 0
    query = (
        select(passes.c.serial, passes.c.version)
        .join(registrations, registrations.c.pass_id == passes.c.id)
        .join(devices, devices.c.id == registrations.c.device_id)
        .where(devices.c.library_id == library_id)
        .order_by(passes.c.version)
    )
    if since is not None:
        query = query.where(passes.c.version > since)
    rows = (await conn.execute(query)).all()
    tag = max((int(r.version) for r in rows), default=since or 0)
    return [r.serial for r in rows], tag


async def touch(conn: AsyncConnection, pass_id: int) -> None:
    """Mark a pass changed by hand (what the ledger's trigger does for a ledger change)."""
    await conn.execute(text("SELECT wallet_apple_touch(ARRAY[:id]::BIGINT[])"), {"id": pass_id})
