"""The customer's orders with their details (seed 003: «детали своих заказов»): won deals of
the customer's contact, as the deal sync recorded them (``b24_deals``, the product rows in
``engine_input``), and the customer's till orders (``pos_orders``, ``pos_order_lines``); for
each, the points earned and paid, read from the ledger by the entries' reference."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.api.portal import CustomerRef, contact_id_of
from kopilka.db.tables import (
    accounts,
    b24_deals,
    ledger_entries,
    ledger_transactions,
    pos_order_lines,
    pos_orders,
)
from kopilka.ledger.types import Book

LIMIT = 50


@dataclass(frozen=True, slots=True)
class Item:
    name: str
    quantity: int
    price: int  # kopecks per unit
    total: int


@dataclass(slots=True)
class Order:
    reference: str  # the ledger's reference: "deal:7001", "pos:A-17"
    amount: int  # kopecks
    at: datetime | None
    refunded: bool = False
    items: list[Item] = field(default_factory=list)
    earned: int = 0  # kopecks of points, net of cancellations
    paid: int = 0  # kopecks of points paid (or reserved) for it


def _deal_items(engine_input: dict[str, Any] | None) -> list[Item]:
    rows = (engine_input or {}).get("rows") or []
    return [
        Item(
            str(r.get("name") or ""),
            int(r.get("quantity") or 1),
            int(r.get("price") or 0),
            int(r.get("price") or 0) * int(r.get("quantity") or 1),
        )
        for r in rows
    ]


async def _deals(conn: AsyncConnection, portal_id: int, contact: int) -> list[Order]:
    d = b24_deals.c
    rows = await conn.execute(
        select(d.deal_id, d.amount, d.closed_at, d.engine_input)
        .where(
            # ``@>``, not ``= ANY``: the contact's deals by the GIN index ``b24_deals_contacts``,
            # not every deal of the portal read (bench/growth)
            d.portal_id == portal_id,
            d.semantic == "S",
            d.contact_ids.contains([contact]),
        )
        .order_by(d.closed_at.desc().nulls_last())
        .limit(LIMIT)
    )
    return [
        Order(f"deal:{r.deal_id}", int(r.amount), r.closed_at, items=_deal_items(r.engine_input))
        for r in rows
    ]


async def _till(conn: AsyncConnection, portal_id: int, customer_id: int) -> list[Order]:
    o = pos_orders.c
    rows = (
        await conn.execute(
            select(o.id, o.order_id, o.total, o.committed_at, o.status)
            .where(
                o.portal_id == portal_id,
                o.customer_id == customer_id,
                o.status.in_(("committed", "refunded")),
            )
            .order_by(o.committed_at.desc())
            .limit(LIMIT)
        )
    ).all()
    lines: dict[int, list[Item]] = defaultdict(list)
    if rows:
        found = await conn.execute(
            select(pos_order_lines)
            .where(pos_order_lines.c.order_pk.in_([r.id for r in rows]))
            .order_by(pos_order_lines.c.order_pk, pos_order_lines.c.position)
        )
        for line in found:
            lines[int(line.order_pk)].append(
                Item(line.name, int(line.quantity), int(line.price), line.price * line.quantity)
            )
    return [
        Order(
            f"pos:{r.order_id}",
            int(r.total),
            r.committed_at,
            refunded=r.status == "refunded",
            items=lines[int(r.id)],
        )
        for r in rows
    ]


async def _points(
    conn: AsyncConnection, book: Book, customer_id: int, references: list[str]
) -> dict[str, tuple[int, int]]:
    """reference → (points earned, points paid) of the customer, from the ledger: each
    transaction's change of the customer's own and held points. A hold carries no reference
    (its row in ``holds`` does) and moves points aside; its capture does carry it, and is the
    payment; an unused hold's release changes nothing."""
    if not references:
        return {}
    t = ledger_transactions.c
    mine = select(accounts.c.id).where(
        accounts.c.program_id == book.program_id,
        accounts.c.customer_id == customer_id,
        accounts.c.kind.in_(("customer", "held")),
    )
    # the orders' transactions first, by ``ledger_transactions_reference`` (MATERIALIZED: the
    # planner would otherwise walk every entry of a long history to find them; bench/growth)
    refs = (
        select(t.id, t.kind, t.reference)
        .where(
            t.portal_id == book.portal_id,
            t.program_id == book.program_id,
            t.reference.in_(references),
        )
        .cte("refs")
        .prefix_with("MATERIALIZED")
    )
    rows = await conn.execute(
        select(refs.c.kind, refs.c.reference, func.sum(ledger_entries.c.amount).label("amount"))
        .join(ledger_entries, ledger_entries.c.transaction_id == refs.c.id)
        .where(ledger_entries.c.account_id.in_(mine))
        .group_by(refs.c.id, refs.c.kind, refs.c.reference)
    )
    earned: dict[str, int] = defaultdict(int)
    paid: dict[str, int] = defaultdict(int)
    for r in rows:
        amount = int(r.amount)
        if r.kind == "accrual" or (r.kind == "reversal" and amount < 0):
            earned[r.reference] += amount
        elif r.kind in ("capture", "redemption", "reversal"):
            paid[r.reference] -= amount
    return {ref: (earned[ref], paid[ref]) for ref in references}


async def orders_of(
    conn: AsyncConnection, portal_id: int, book: Book, customer: CustomerRef
) -> list[Order]:
    """Won deals of the customer's contact and the customer's till orders, newest first."""
    found: list[Order] = []
    contact = contact_id_of(customer.external_id)
    if contact is not None:
        found += await _deals(conn, portal_id, contact)
    found += await _till(conn, portal_id, customer.id)
    points = await _points(conn, book, customer.id, [o.reference for o in found])
    for order in found:
        order.earned, order.paid = points.get(order.reference, (0, 0))
    far = datetime.min.replace(tzinfo=UTC)
    return sorted(found, key=lambda o: o.at or far, reverse=True)
