"""Tenants, programs, customers and accounts: found or created, never duplicated."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, union_all
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.db.tables import accounts as accounts_t
from kopilka.db.tables import customers, portals, program_versions, programs
from kopilka.domain.errors import UnknownCustomer
from kopilka.ledger.types import Account, Book


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
    """The portal's program row (its one lineage, created on first use) as a book, for code that
    posts without a program file (ledger tests, benchmarks); when a hash is given, its version
    row is recorded so that entries can name it. Programs reach a portal through
    :func:`kopilka.lifecycle.service.apply_program`, which also puts a version in force."""
    await conn.execute(
        insert(programs)
        .values(portal_id=portal_id, code=code, title=title, timezone=timezone)
        .on_conflict_do_nothing()
    )
    program_id = await conn.scalar(select(programs.c.id).where(programs.c.portal_id == portal_id))
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


async def ensure_customers(
    conn: AsyncConnection, portal_id: int, names: Mapping[str, str]
) -> dict[str, int]:
    """``external_id -> name`` (the name is used only for a customer created here) to customer
    ids, in two statements for any number of customers."""
    if not names:
        return {}
    wanted = sorted(names)  # one insertion order for every caller
    await conn.execute(
        insert(customers)
        .values([{"portal_id": portal_id, "external_id": e, "name": names[e]} for e in wanted])
        .on_conflict_do_nothing()
    )
    found = {
        str(e): int(i)
        for e, i in await conn.execute(
            select(customers.c.external_id, customers.c.id).where(
                customers.c.portal_id == portal_id, customers.c.external_id.in_(wanted)
            )
        )
    }
    missing = [e for e in wanted if e not in found]
    if missing:
        raise UnknownCustomer(f"no customer with id {missing[0]!r} in this portal")
    return found


async def get_customer_id(conn: AsyncConnection, portal_id: int, external_id: str) -> int:
    customer_id = await conn.scalar(
        select(customers.c.id).where(
            customers.c.portal_id == portal_id, customers.c.external_id == external_id
        )
    )
    if customer_id is None:
        raise UnknownCustomer(f"no customer with id {external_id!r} in this portal")
    return int(customer_id)


SYSTEM_KINDS = ("issued", "redeemed", "expired")


async def accounts(
    conn: AsyncConnection, book: Book, customer_ids: Iterable[int], kinds: Iterable[str]
) -> dict[tuple[str, int | None], Account]:
    """The program's system accounts and the ``kinds`` accounts of ``customer_ids``, created
    on first use, in two round trips at most. Unknown customers raise ``UnknownCustomer``."""
    wanted_customers = sorted(set(customer_ids))
    wanted_kinds = sorted(set(kinds))
    # Two index probes, not one OR: `customer_id IS NULL OR customer_id IN (…)` was planned as a
    # walk over every account of the program (bench/growth found it at 1 000 accounts).
    columns = (accounts_t.c.id, accounts_t.c.kind, accounts_t.c.customer_id)
    query = union_all(
        select(*columns).where(
            accounts_t.c.portal_id == book.portal_id,
            accounts_t.c.program_id == book.program_id,
            accounts_t.c.kind.in_(SYSTEM_KINDS),
            accounts_t.c.customer_id.is_(None),
        ),
        select(*columns).where(
            accounts_t.c.portal_id == book.portal_id,
            accounts_t.c.program_id == book.program_id,
            accounts_t.c.kind.in_(wanted_kinds),
            accounts_t.c.customer_id.in_(wanted_customers),
        ),
    )

    def index(rows: Iterable[Any]) -> dict[tuple[str, int | None], Account]:
        return {(r.kind, r.customer_id): Account(int(r.id), r.kind, r.customer_id) for r in rows}

    found = index(await conn.execute(query))
    missing_system = [k for k in SYSTEM_KINDS if (k, None) not in found]
    missing = [(k, c) for c in wanted_customers for k in wanted_kinds if (k, c) not in found]
    if not missing and not missing_system:
        return found
    if missing:
        known = set(
            (
                await conn.scalars(
                    select(customers.c.id).where(
                        customers.c.portal_id == book.portal_id,
                        customers.c.id.in_([c for _, c in missing]),
                    )
                )
            ).all()
        )
        if unknown := sorted({c for _, c in missing} - known):
            raise UnknownCustomer(f"no customer #{unknown[0]} in this portal")
    rows = [
        {"portal_id": book.portal_id, "program_id": book.program_id, "kind": k, "customer_id": c}
        for k, c in [*((k, None) for k in missing_system), *missing]
    ]
    await conn.execute(insert(accounts_t).values(rows).on_conflict_do_nothing())
    return index(await conn.execute(query))


async def account(
    conn: AsyncConnection,
    book: Book,
    kind: str,
    customer_id: int | None = None,
    *,
    lock: bool = False,
) -> Account:
    """The (program, kind, customer) account, created on first use.

    ``lock=True`` takes the row lock (``SELECT … FOR UPDATE``) that serialises spending.
    """
    found = await accounts(
        conn,
        book,
        [] if customer_id is None else [customer_id],
        [kind] if customer_id is not None else [],
    )
    acc = found[(kind, customer_id)]
    if lock:
        await lock_accounts(conn, [acc.id])
    return acc


async def lock_accounts(conn: AsyncConnection, account_ids: Iterable[int]) -> None:
    """Row-lock accounts in id order (a fixed order: concurrent batches cannot deadlock)."""
    await conn.execute(
        select(accounts_t.c.id)
        .where(accounts_t.c.id.in_(sorted(set(account_ids))))
        .order_by(accounts_t.c.id)
        .with_for_update()
    )
