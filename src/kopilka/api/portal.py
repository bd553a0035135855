"""A portal's program, its customers by card or phone, and their progress towards levels.

Shared by the public API, the cabinet and the admin pages: each finds the program the portal
runs (the one attached to its Bitrix24 connection, else the portal's newest loaded program) and
the customer a card number or phone belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Subquery, func, or_, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24.standing import histories
from kopilka.db.tables import (
    b24_connections,
    cards,
    customers,
    pos_orders,
    program_versions,
    programs,
)
from kopilka.domain.deal import CustomerHistory
from kopilka.domain.effects import LevelStatus
from kopilka.domain.errors import NotFound, UnknownCustomer
from kopilka.domain.levels import metric_of, period_start, status_for
from kopilka.ledger.book import ensure_book
from kopilka.ledger.types import Book
from kopilka.phones import InvalidPhone, normalize_phone
from kopilka.program.loader import parse_program
from kopilka.program.model import Program


class NoProgram(NotFound):
    code = "no_program"


_parsed: dict[str, Program] = {}


async def current_program(conn: AsyncConnection, portal_id: int) -> tuple[Book, Program]:
    """The portal's program at its newest version (parsed once per process and hash)."""
    attached = await conn.scalar(
        select(b24_connections.c.program_id).where(b24_connections.c.portal_id == portal_id)
    )
    query = (
        select(programs.c.code, programs.c.timezone, program_versions)
        .join(program_versions, program_versions.c.program_id == programs.c.id)
        .where(programs.c.portal_id == portal_id)
        .order_by(program_versions.c.loaded_at.desc())
        .limit(1)
    )
    if attached is not None:
        query = query.where(programs.c.id == attached)
    row = (await conn.execute(query)).first()
    if row is None:
        raise NoProgram("this portal has no loaded program")
    m = row._mapping
    program = _parsed.get(m["hash"])
    if program is None:
        program = _parsed[m["hash"]] = parse_program(m["source"], m["source_name"], stored=True)
    book = await ensure_book(
        conn,
        portal_id,
        code=m["code"],
        title=program.title,
        timezone=m["timezone"],
        program_hash=m["hash"],
    )
    return book, program


@dataclass(frozen=True, slots=True)
class CustomerRef:
    id: int
    external_id: str
    name: str
    phone: str | None
    card_number: str | None
    card_status: str | None


def _customer_query(portal_id: int) -> tuple[Select[Any], Subquery]:
    card = (
        select(cards.c.customer_id, cards.c.number, cards.c.status)
        .where(cards.c.portal_id == portal_id)
        .ext(distinct_on(cards.c.customer_id))
        .order_by(cards.c.customer_id, (cards.c.status == "active").desc(), cards.c.id.desc())
        .subquery()
    )
    query = (
        select(
            customers.c.id,
            customers.c.external_id,
            customers.c.name,
            customers.c.phone,
            card.c.number,
            card.c.status,
        )
        .outerjoin(card, card.c.customer_id == customers.c.id)
        .where(customers.c.portal_id == portal_id)
    )
    return query, card


def _ref(row: Row[Any]) -> CustomerRef:
    r = row._mapping
    return CustomerRef(
        int(r["id"]), r["external_id"], r["name"], r["phone"], r["number"], r["status"]
    )


async def customer_by_id(conn: AsyncConnection, portal_id: int, customer_id: int) -> CustomerRef:
    query, _ = _customer_query(portal_id)
    row = (await conn.execute(query.where(customers.c.id == customer_id))).first()
    if row is None:
        raise UnknownCustomer(f"no customer #{customer_id} in this portal")
    return _ref(row)


async def customer_by_card(conn: AsyncConnection, portal_id: int, number: str) -> CustomerRef:
    """The holder of a card (its number as typed: normalised to E.164 first)."""
    try:
        e164 = normalize_phone(number)
    except InvalidPhone:
        raise UnknownCustomer("no card with this number") from None
    owner = await conn.scalar(
        select(cards.c.customer_id).where(cards.c.portal_id == portal_id, cards.c.number == e164)
    )
    if owner is None:
        raise UnknownCustomer("no card with this number")
    return await customer_by_id(conn, portal_id, int(owner))


async def customer_by_phone(conn: AsyncConnection, portal_id: int, phone: str) -> CustomerRef:
    """The customer with this phone: the card holder first, else the customer's own phone."""
    e164 = normalize_phone(phone)  # InvalidPhone: the caller says the phone is not valid
    try:
        return await customer_by_card(conn, portal_id, e164)
    except UnknownCustomer:
        pass
    query, _ = _customer_query(portal_id)
    rows = (
        await conn.execute(query.where(customers.c.phone == e164).order_by(customers.c.id))
    ).all()
    if not rows:
        raise UnknownCustomer("no customer with this phone")
    return _ref(rows[0])


async def search_customers(
    conn: AsyncConnection, portal_id: int, q: str, *, limit: int = 50
) -> list[CustomerRef]:
    """Customers whose name, phone or card matches ``q`` (the admin's search box)."""
    query, card = _customer_query(portal_id)
    text = q.strip()
    if text:
        like = f"%{text.replace('%', '').replace('_', '')}%"
        conditions = [customers.c.name.ilike(like), customers.c.external_id == text]
        try:
            e164 = normalize_phone(text)
            conditions += [customers.c.phone == e164, card.c.number == e164]
        except InvalidPhone:
            digits = "".join(ch for ch in text if ch.isdigit())
            if len(digits) >= 3:
                conditions += [
                    customers.c.phone.contains(digits),
                    card.c.number.contains(digits),
                ]
        query = query.where(or_(*conditions))
    rows = await conn.execute(query.order_by(customers.c.id.desc()).limit(limit))
    return [_ref(r) for r in rows]


def contact_id_of(external_id: str) -> int | None:
    """The Bitrix24 contact id of a customer keyed ``contact:<id>``."""
    kind, _, rest = external_id.partition(":")
    return int(rest) if kind == "contact" and rest.isdigit() else None


async def customer_history(
    conn: AsyncConnection,
    book: Book,
    program: Program,
    customer: CustomerRef,
    now: datetime,
    *,
    exclude_order: str | None = None,
) -> CustomerHistory:
    """Won deals and purchases of a customer: Bitrix24 deals (each contact's share, as the deal
    sync records it: ``bitrix24.standing``) plus committed POS orders. Sums are kopecks."""
    since = period_start(program.levels, now, program.tz) if program.levels else None
    by_pipeline_count: dict[int, int] = {}
    by_pipeline_sum: dict[int, int] = {}
    contact = contact_id_of(customer.external_id)
    if contact is not None:
        known = (await histories(conn, book.portal_id, program, [contact], now=now))[contact]
        by_pipeline_count = dict(known.won_deals_by_pipeline)
        by_pipeline_sum = dict(known.purchases_by_pipeline)
    orders = (
        select(
            pos_orders.c.pipeline_id.label("pipeline"),
            func.count().label("n"),
            func.coalesce(func.sum(pos_orders.c.total), 0).label("total"),
        )
        .where(
            pos_orders.c.portal_id == book.portal_id,
            pos_orders.c.customer_id == customer.id,
            pos_orders.c.status == "committed",
        )
        .group_by(pos_orders.c.pipeline_id)
    )
    if since is not None:
        orders = orders.where(pos_orders.c.committed_at >= since)
    if exclude_order is not None:
        orders = orders.where(pos_orders.c.order_id != exclude_order)
    for r in await conn.execute(orders):
        p = int(r.pipeline)
        by_pipeline_count[p] = by_pipeline_count.get(p, 0) + int(r.n)
        by_pipeline_sum[p] = by_pipeline_sum.get(p, 0) + int(r.total)
    return CustomerHistory(
        won_deals=sum(by_pipeline_count.values()),
        purchases_total=sum(by_pipeline_sum.values()),
        won_deals_by_pipeline=by_pipeline_count,
        purchases_by_pipeline=by_pipeline_sum,
    )


async def customer_level(
    conn: AsyncConnection, book: Book, program: Program, customer: CustomerRef, now: datetime
) -> LevelStatus | None:
    """The customer's level now and what is needed for the next one (None: no levels)."""
    if program.levels is None:
        return None
    history = await customer_history(conn, book, program, customer, now)
    return status_for(program.levels, metric_of(program, program.levels, history))
