"""What Kopilka stores about a restaurant: its link, each guest's mirrored wallet, the pushes
recorded before they are sent, and the till's transactions as posted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.db.tables import (
    cards,
    customers,
    iiko_customers,
    iiko_links,
    iiko_orders,
    iiko_pushes,
    iiko_till_events,
)


@dataclass(frozen=True, slots=True)
class Link:
    id: int
    portal_id: int
    organization_id: str
    api_login: str
    base_url: str
    orders_as_deals: bool
    status: str


@dataclass(frozen=True, slots=True)
class Mirrored:
    customer_id: int
    guest_id: str
    wallet_id: str
    phone: str
    wallet_balance: int
    revision: int


@dataclass(frozen=True, slots=True)
class Push:
    id: int
    customer_id: int
    kind: str
    amount: int
    before: int
    after: int
    status: str
    created_at: datetime


def _link(r: Any) -> Link:
    return Link(
        int(r.id),
        int(r.portal_id),
        r.organization_id,
        r.api_login,
        r.base_url,
        bool(r.orders_as_deals),
        r.status,
    )


async def link_of(conn: AsyncConnection, portal_id: int) -> Link | None:
    row = (
        await conn.execute(select(iiko_links).where(iiko_links.c.portal_id == portal_id))
    ).first()
    return None if row is None else _link(row)


async def active_links(conn: AsyncConnection) -> list[Link]:
    rows = await conn.execute(
        select(iiko_links).where(iiko_links.c.status == "active").order_by(iiko_links.c.id)
    )
    return [_link(r) for r in rows]


async def save_link(
    conn: AsyncConnection,
    portal_id: int,
    *,
    organization_id: str,
    api_login: str,
    base_url: str,
    orders_as_deals: bool,
    deal_category: int = 0,
    deal_stage: str = "WON",
) -> Link:
    values = {
        "organization_id": organization_id,
        "api_login": api_login,
        "base_url": base_url,
        "orders_as_deals": orders_as_deals,
        "deal_category": deal_category,
        "deal_stage": deal_stage,
        "status": "active",
    }
    stmt = insert(iiko_links).values(portal_id=portal_id, **values)
    stmt = stmt.on_conflict_do_update(index_elements=["portal_id"], set_=values)
    row = (await conn.execute(stmt.returning(*iiko_links.c))).one()
    return _link(row)


async def record_sync(
    conn: AsyncConnection, link_id: int, now: datetime, error: str | None
) -> None:
    await conn.execute(
        update(iiko_links)
        .where(iiko_links.c.id == link_id)
        .values(last_sync_at=now, last_error=None if error is None else error[:1000])
    )


async def phones_to_mirror(conn: AsyncConnection, portal_id: int) -> list[tuple[int, str, str]]:
    """(customer id, phone, name) of every customer of the portal with an active card (its
    number is the phone) or, without one, a phone of their own."""
    card = (
        select(cards.c.customer_id, func.min(cards.c.number).label("number"))
        .where(cards.c.portal_id == portal_id, cards.c.status == "active")
        .group_by(cards.c.customer_id)
        .subquery()
    )
    phone = func.coalesce(card.c.number, customers.c.phone)
    rows = await conn.execute(
        select(customers.c.id, phone.label("phone"), customers.c.name)
        .outerjoin(card, card.c.customer_id == customers.c.id)
        .where(customers.c.portal_id == portal_id, phone.is_not(None))
        .order_by(customers.c.id)
    )
    return [(int(r.id), str(r.phone), str(r.name or "")) for r in rows]


def _mirrored(r: Any) -> Mirrored:
    return Mirrored(
        int(r.customer_id),
        r.iiko_customer_id,
        r.wallet_id,
        r.phone,
        int(r.wallet_balance),
        int(r.revision),
    )


async def mirrored(
    conn: AsyncConnection, link_id: int, customer_id: int, *, lock: bool = False
) -> Mirrored | None:
    query = select(iiko_customers).where(
        iiko_customers.c.link_id == link_id, iiko_customers.c.customer_id == customer_id
    )
    row = (await conn.execute(query.with_for_update() if lock else query)).first()
    return None if row is None else _mirrored(row)


async def add_mirrored(
    conn: AsyncConnection, link_id: int, customer_id: int, guest: Mirrored
) -> None:
    await conn.execute(
        insert(iiko_customers)
        .values(
            link_id=link_id,
            customer_id=customer_id,
            iiko_customer_id=guest.guest_id,
            wallet_id=guest.wallet_id,
            phone=guest.phone,
            wallet_balance=guest.wallet_balance,
            revision=guest.revision,
        )
        .on_conflict_do_nothing()
    )


async def set_wallet(
    conn: AsyncConnection,
    link_id: int,
    customer_id: int,
    now: datetime,
    *,
    balance: int | None = None,
    revision: int | None = None,
) -> None:
    values: dict[str, Any] = {"synced_at": now}
    if balance is not None:
        values["wallet_balance"] = balance
    if revision is not None:
        values["revision"] = revision
    await conn.execute(
        update(iiko_customers)
        .where(iiko_customers.c.link_id == link_id, iiko_customers.c.customer_id == customer_id)
        .values(**values)
    )


def _push(r: Any) -> Push:
    return Push(
        int(r.id),
        int(r.customer_id),
        r.kind,
        int(r.amount),
        int(r.before),
        int(r.after),
        r.status,
        r.created_at,
    )


async def pending_push(conn: AsyncConnection, link_id: int, customer_id: int) -> Push | None:
    row = (
        await conn.execute(
            select(iiko_pushes).where(
                iiko_pushes.c.link_id == link_id,
                iiko_pushes.c.customer_id == customer_id,
                iiko_pushes.c.status == "pending",
            )
        )
    ).first()
    return None if row is None else _push(row)


async def new_push(
    conn: AsyncConnection, link_id: int, customer_id: int, before: int, after: int, now: datetime
) -> Push:
    delta = after - before
    row = (
        await conn.execute(
            insert(iiko_pushes)
            .values(
                link_id=link_id,
                customer_id=customer_id,
                kind="topup" if delta > 0 else "chargeoff",
                amount=abs(delta),
                before=before,
                after=after,
                created_at=now,
            )
            .returning(*iiko_pushes.c)
        )
    ).one()
    return _push(row)


async def settle_push(conn: AsyncConnection, push_id: int, status: str, now: datetime) -> bool:
    """Settle a pending push; False when it was settled already (by another run)."""
    done = await conn.execute(
        update(iiko_pushes)
        .where(iiko_pushes.c.id == push_id, iiko_pushes.c.status == "pending")
        .values(status=status, settled_at=now)
    )
    return bool(done.rowcount)


async def till_event_known(conn: AsyncConnection, link_id: int, transaction_id: str) -> bool:
    found = await conn.scalar(
        select(func.count())
        .select_from(iiko_till_events)
        .where(
            iiko_till_events.c.link_id == link_id,
            iiko_till_events.c.transaction_id == transaction_id,
        )
    )
    return bool(found)


async def add_till_event(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(insert(iiko_till_events).values(**values))


async def shortfalls(conn: AsyncConnection, link_id: int, limit: int = 50) -> list[Any]:
    """The till's spends Kopilka could not honour in full, newest first."""
    rows = await conn.execute(
        select(iiko_till_events, customers.c.name, customers.c.phone)
        .join(customers, customers.c.id == iiko_till_events.c.customer_id)
        .where(iiko_till_events.c.link_id == link_id, iiko_till_events.c.status == "short")
        .order_by(iiko_till_events.c.recorded_at.desc())
        .limit(limit)
    )
    return list(rows)


async def drift(conn: AsyncConnection, link_id: int) -> list[Any]:
    """Each mirrored guest: the wallet as last seen, the pushes still pending."""
    pending = (
        select(func.count())
        .select_from(iiko_pushes)
        .where(
            iiko_pushes.c.link_id == iiko_customers.c.link_id,
            iiko_pushes.c.customer_id == iiko_customers.c.customer_id,
            iiko_pushes.c.status == "pending",
        )
        .scalar_subquery()
    )
    rows = await conn.execute(
        select(iiko_customers, pending.label("pending"))
        .where(iiko_customers.c.link_id == link_id)
        .order_by(iiko_customers.c.customer_id)
    )
    return list(rows)


async def link_state(conn: AsyncConnection, link_id: int) -> Any:
    """When the link was last reconciled and the error that stopped it, if any."""
    return (
        await conn.execute(
            select(iiko_links.c.last_sync_at, iiko_links.c.last_error).where(
                iiko_links.c.id == link_id
            )
        )
    ).one()


async def orders_revision(conn: AsyncConnection, link_id: int) -> int:
    return int(
        await conn.scalar(select(iiko_links.c.orders_revision).where(iiko_links.c.id == link_id))
        or 0
    )


async def set_orders_revision(conn: AsyncConnection, link_id: int, revision: int) -> None:
    await conn.execute(
        update(iiko_links).where(iiko_links.c.id == link_id).values(orders_revision=revision)
    )


async def deal_of_order(conn: AsyncConnection, link_id: int, order_id: str) -> int | None:
    found = await conn.scalar(
        select(iiko_orders.c.deal_id).where(
            iiko_orders.c.link_id == link_id, iiko_orders.c.order_id == order_id
        )
    )
    return None if found is None else int(found)


async def add_order(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(insert(iiko_orders).values(**values).on_conflict_do_nothing())


async def deal_settings(conn: AsyncConnection, link_id: int) -> tuple[int, str]:
    row = (
        await conn.execute(
            select(iiko_links.c.deal_category, iiko_links.c.deal_stage).where(
                iiko_links.c.id == link_id
            )
        )
    ).one()
    return int(row.deal_category), str(row.deal_stage)
