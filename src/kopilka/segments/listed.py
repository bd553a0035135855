"""Who a UniSender list was last given for a segment (``segment_list_members``), and the rows
that take out of it whoever left the segment — opted out, moved to another, deleted in the
portal, without the address the channel needs — or changed address since."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.db.tables import segment_list_members
from kopilka.segments.schemas import ListRow, Member

Addresses = tuple[str | None, str | None]  # (e-mail, phone)


def rows_of(found: Sequence[Member], channel: str) -> list[ListRow]:
    """The members as the list gets them: only the addresses the channel wants."""
    rows = []
    for m in found:
        email = m.email if channel in ("email", "any") else None
        phone = m.phone if channel in ("sms", "any") else None
        if email or phone:
            rows.append(ListRow(m.customer_id, email, phone, m.name))
    return rows


def leavers(previous: dict[int, Addresses], current: Sequence[ListRow]) -> list[ListRow]:
    """A ``delete`` row for each address the list was given and no member has any more."""
    kept = {a for r in current for a in (r.email, r.phone) if a}
    rows = []
    for customer_id, (email, phone) in sorted(previous.items()):
        gone_email = email if email and email not in kept else None
        gone_phone = phone if phone and phone not in kept else None
        if gone_email or gone_phone:
            rows.append(ListRow(customer_id, gone_email, gone_phone, delete=True))
    return rows


def _key(portal_id: int, segment: str, list_id: int) -> ColumnElement[bool]:
    m = segment_list_members.c
    return and_(m.portal_id == portal_id, m.segment == segment, m.list_id == list_id)


async def listed(
    conn: AsyncConnection, portal_id: int, segment: str, list_id: int
) -> dict[int, Addresses]:
    m = segment_list_members.c
    rows = await conn.execute(
        select(m.customer_id, m.email, m.phone).where(_key(portal_id, segment, list_id))
    )
    return {int(r.customer_id): (r.email, r.phone) for r in rows}


async def replace_listed(
    conn: AsyncConnection,
    portal_id: int,
    segment: str,
    list_id: int,
    rows: Sequence[ListRow],
    now: datetime,
) -> None:
    """The list now holds ``rows`` (after an export UniSender took)."""
    await conn.execute(delete(segment_list_members).where(_key(portal_id, segment, list_id)))
    values = [
        {
            "portal_id": portal_id,
            "segment": segment,
            "list_id": list_id,
            "customer_id": r.customer_id,
            "email": r.email,
            "phone": r.phone,
            "listed_at": now,
        }
        for r in rows
    ]
    for start in range(0, len(values), 1000):
        await conn.execute(insert(segment_list_members).values(values[start : start + 1000]))
