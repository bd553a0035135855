"""Tenants, programs, customers and accounts: found or created, never duplicated."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import and_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.db.tables import accounts, customers, portals, program_versions, programs
from kopilka.domain.errors import UnknownCustomer
from kopilka.ledger.types import Book


async def ensure_portal(conn: AsyncConnection, member_id: str, title: str = "") -> int:
    await conn.execute(
        insert(portals).values(member_id=member_id, title=title).on_conflict_do_nothing()
    )
    portal_id = await conn.scalar(select(portals.c.id).where(portals.c.member_id == member_id))
    assert portal_id is not None
    return int(portal_id)


async def ensure_book(
    conn: AsyncConnection,
    portal_id: int,
    *,
    code: str,
    title: str,
    timezone: str,
    program_hash: str | None = None,
    source_name: str = "",
    source: str = "",
) -> Book:
    """The program's row (created on first use) and, when a hash is given, its version row."""
    await conn.execute(
        insert(programs)
        .values(portal_id=portal_id, code=code, title=title, timezone=timezone)
        .on_conflict_do_nothing()
    )
    program_id = await conn.scalar(
        select(programs.c.id).where(programs.c.portal_id == portal_id, programs.c.code == code)
    )
    assert program_id is not None
    if program_hash is not None:
        await conn.execute(
            insert(program_versions)
            .values(
                program_id=program_id, hash=program_hash, source_name=source_name, source=source
            )
            .on_conflict_do_nothing()
        )
    return Book(
        portal_id=portal_id,
        program_id=int(program_id),
        program_code=code,
        program_hash=program_hash,
        timezone=ZoneInfo(timezone),
    )


async def find_book(conn: AsyncConnection, portal_id: int, code: str) -> Book | None:
    row = (
        await conn.execute(
            select(programs.c.id, programs.c.timezone).where(
                programs.c.portal_id == portal_id, programs.c.code == code
            )
        )
    ).one_or_none()
    if row is None:
        return None
    return Book(portal_id, int(row.id), code, None, ZoneInfo(row.timezone))


async def ensure_customer(
    conn: AsyncConnection,
    portal_id: int,
    external_id: str,
    *,
    name: str = "",
    phone: str | None = None,
) -> int:
    await conn.execute(
        insert(customers)
        .values(portal_id=portal_id, external_id=external_id, name=name, phone=phone)
        .on_conflict_do_nothing()
    )
    return await get_customer_id(conn, portal_id, external_id)


async def get_customer_id(conn: AsyncConnection, portal_id: int, external_id: str) -> int:
    customer_id = await conn.scalar(
        select(customers.c.id).where(
            customers.c.portal_id == portal_id, customers.c.external_id == external_id
        )
    )
    if customer_id is None:
        raise UnknownCustomer(f"no customer with id {external_id!r} in this portal")
    return int(customer_id)


async def check_customer(conn: AsyncConnection, book: Book, customer_id: int) -> None:
    found = await conn.scalar(
        select(customers.c.id).where(
            customers.c.id == customer_id, customers.c.portal_id == book.portal_id
        )
    )
    if found is None:
        raise UnknownCustomer(f"no customer #{customer_id} in this portal")


async def account_id(
    conn: AsyncConnection,
    book: Book,
    kind: str,
    customer_id: int | None = None,
    *,
    lock: bool = False,
) -> int:
    """The id of the (program, kind, customer) account, created on first use.

    ``lock=True`` takes the row lock (``SELECT … FOR UPDATE``) that serialises spending.
    """
    where = and_(
        accounts.c.program_id == book.program_id,
        accounts.c.kind == kind,
        accounts.c.customer_id.is_(None)
        if customer_id is None
        else accounts.c.customer_id == customer_id,
    )
    query = select(accounts.c.id).where(where)
    if lock:
        query = query.with_for_update()
    found = await conn.scalar(query)
    if found is not None:
        return int(found)
    await conn.execute(
        insert(accounts)
        .values(
            portal_id=book.portal_id, program_id=book.program_id, kind=kind, customer_id=customer_id
        )
        .on_conflict_do_nothing()
    )
    found = await conn.scalar(query)
    assert found is not None
    return int(found)
