"""Naming a portal: every command that takes ``--portal`` resolves it here, and an unknown
reference is refused — a typo never creates a tenant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.db.tables import BIGINT_MAX, b24_connections, customers, portals, programs
from kopilka.domain.errors import InvalidCommand, NotFound, UnknownCustomer
from kopilka.ledger.book import ensure_portal, get_customer_id


class UnknownPortal(NotFound):
    code = "unknown_portal"


async def resolve_portal(conn: AsyncConnection, ref: str | None) -> int:
    """The portal ``ref`` names — its id, ``member_id`` or Bitrix24 domain — or, with no
    reference, the only portal there is. Anything else is refused with what to do."""
    query = select(portals.c.id).outerjoin(
        b24_connections, b24_connections.c.portal_id == portals.c.id
    )
    if ref is None:
        found = (await conn.scalars(query.order_by(portals.c.id).limit(2))).all()
        if not found:
            raise UnknownPortal(
                "no portal yet: connect one (`kopilka connect`) or apply a program to the local "
                "one (`kopilka program apply FILE`)"
            )
        if len(found) > 1:
            raise InvalidCommand(
                "several portals are connected: name one with --portal (`kopilka portal list`)"
            )
        return int(found[0])
    ref = ref.strip()
    matches = [portals.c.member_id == ref, b24_connections.c.domain == ref.lower()]
    if ref.isdigit() and int(ref) <= BIGINT_MAX:
        matches.append(portals.c.id == int(ref))
    found = (await conn.scalars(query.where(or_(*matches)).distinct())).all()
    if len(found) != 1:
        raise UnknownPortal(f"no portal {ref!r}: see `kopilka portal list`")
    return int(found[0])


async def local_portal(conn: AsyncConnection, member_id: str, ref: str | None) -> int:
    """The portal ``program apply`` installs into: the one named, else the only one, else —
    when there is none at all — the local tenant (``member_id``), created here."""
    if ref is None and not await conn.scalar(select(portals.c.id).limit(1)):
        return await ensure_portal(conn, member_id, "")
    return await resolve_portal(conn, ref)


async def find_customer(conn: AsyncConnection, portal_id: int, ref: str) -> int:
    """A customer named on the command line: its own id, or — in a Bitrix24 portal, whose
    customers are its contacts — a contact ID (``42`` is ``contact:42``)."""
    ref = ref.strip()
    try:
        return await get_customer_id(conn, portal_id, ref)
    except UnknownCustomer:
        if not ref.isdigit():
            raise
    try:
        return await get_customer_id(conn, portal_id, f"contact:{ref}")
    except UnknownCustomer:
        raise UnknownCustomer(f"no customer {ref!r} (nor contact:{ref}) in this portal") from None


@dataclass(frozen=True, slots=True)
class PortalView:
    """A portal as the operator sees it (no credentials)."""

    id: int
    member_id: str
    title: str
    domain: str | None
    mode: str | None  # webhook | app | None (a local book, no Bitrix24)
    status: str | None
    program: str | None
    customers: int
    created_at: datetime | None


async def list_portals(conn: AsyncConnection, portal_id: int | None = None) -> list[PortalView]:
    count = (
        select(func.count())
        .where(customers.c.portal_id == portals.c.id)
        .correlate(portals)
        .scalar_subquery()
    )
    query = (
        select(
            portals.c.id,
            portals.c.member_id,
            portals.c.title,
            b24_connections.c.domain,
            b24_connections.c.mode,
            b24_connections.c.status,
            programs.c.code.label("program"),
            count.label("customers"),
            portals.c.created_at,
        )
        .outerjoin(b24_connections, b24_connections.c.portal_id == portals.c.id)
        .outerjoin(programs, programs.c.portal_id == portals.c.id)
        .order_by(portals.c.id)
    )
    if portal_id is not None:
        query = query.where(portals.c.id == portal_id)
    return [PortalView(**r._mapping) for r in await conn.execute(query)]


async def rename_portal(conn: AsyncConnection, portal_id: int, title: str) -> None:
    title = title.strip()
    if not title or len(title) > 200:
        raise InvalidCommand("a portal's title is 1 to 200 characters")
    await conn.execute(update(portals).where(portals.c.id == portal_id).values(title=title))


async def disconnect_portal(conn: AsyncConnection, portal_id: int) -> bool:
    """Stop serving a portal's Bitrix24 connection: its credentials are erased (webhook, tokens),
    its events refused and it is no longer synced. Its book — customers, points, history — is
    kept (points once earned never move); ``connect`` or a new install resumes it. Returns
    whether there was an active connection."""
    done = await conn.execute(
        update(b24_connections)
        .where(b24_connections.c.portal_id == portal_id, b24_connections.c.status == "active")
        .values(status="disconnected", webhook_url=None, access_token=None, refresh_token=None)
    )
    return bool(done.rowcount)
