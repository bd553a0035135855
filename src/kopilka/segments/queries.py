"""The part of a segment Kopilka's own tables answer: opt-outs, levels, balances, the last
purchase and points about to expire (the contact's type and classifier are Bitrix24's)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.api.portal import contact_id_of
from kopilka.db.tables import (
    b24_contact_state,
    b24_deal_shares,
    customers,
    notification_optouts,
    segment_exports,
)
from kopilka.ledger.queries import balances
from kopilka.ledger.types import Book
from kopilka.program.mailing import MailingSegment
from kopilka.segments.schemas import Candidate

CHUNK = 1000


async def _customers(conn: AsyncConnection, portal_id: int) -> list[Candidate]:
    """The portal's customers that are Bitrix24 contacts and did not opt out."""
    c, o = customers.c, notification_optouts.c
    opted = select(o.customer_id).where(o.portal_id == portal_id)
    rows = await conn.execute(
        select(c.id, c.external_id, c.name, c.phone)
        .where(c.portal_id == portal_id, c.id.not_in(opted))
        .order_by(c.id)
    )
    found = []
    for r in rows:
        contact_id = contact_id_of(str(r.external_id))
        if contact_id is not None:
            found.append(Candidate(int(r.id), contact_id, str(r.name or ""), r.phone))
    return found


async def _levels(conn: AsyncConnection, portal_id: int) -> dict[int, str | None]:
    s = b24_contact_state.c
    rows = await conn.execute(select(s.contact_id, s.level_id).where(s.portal_id == portal_id))
    return {int(r.contact_id): r.level_id for r in rows}


async def _last_purchases(conn: AsyncConnection, portal_id: int) -> dict[int, datetime]:
    s = b24_deal_shares.c
    rows = await conn.execute(
        select(s.contact_id, func.max(s.closed_at).label("last"))
        .where(s.portal_id == portal_id)
        .group_by(s.contact_id)
    )
    return {int(r.contact_id): r.last for r in rows}


def _bought(rule: Any, last: datetime | None, now: datetime) -> bool:
    if rule.never:
        return last is None
    if last is None:
        return False
    if rule.within_days is not None:
        return last >= now - timedelta(days=rule.within_days)
    return bool(last < now - timedelta(days=rule.older_than_days))


async def candidates(
    conn: AsyncConnection, book: Book, seg: MailingSegment, now: datetime
) -> list[Candidate]:
    """The customers that pass every condition of ``seg`` Kopilka can judge by itself."""
    found = await _customers(conn, book.portal_id)
    if seg.levels is not None:
        levels = await _levels(conn, book.portal_id)
        found = [c for c in found if levels.get(c.contact_id) in seg.levels]
    if seg.last_purchase is not None:
        last = await _last_purchases(conn, book.portal_id)
        found = [c for c in found if _bought(seg.last_purchase, last.get(c.contact_id), now)]
    if seg.balance is None and seg.expiring_within_days is None:
        return found
    kept: list[Candidate] = []
    for start in range(0, len(found), CHUNK):
        part = found[start : start + CHUNK]
        books = await balances(conn, book, [c.customer_id for c in part], now)
        for c in part:
            if _points_fit(seg, books[c.customer_id], now):
                kept.append(c)
    return kept


def _points_fit(seg: MailingSegment, bal: Any, now: datetime) -> bool:
    if seg.balance is not None:
        points = Decimal(bal.available) / 100
        if seg.balance.min is not None and points < seg.balance.min:
            return False
        if seg.balance.max is not None and points > seg.balance.max:
            return False
    if seg.expiring_within_days is not None:
        until = now + timedelta(days=seg.expiring_within_days)
        soon = sum(
            lot.remaining
            for lot in bal.expiring
            if lot.expires_at is not None and now < lot.expires_at <= until
        )
        if soon <= 0:
            return False
    return True


async def recent_exports(conn: AsyncConnection, portal_id: int, limit: int = 30) -> list[Any]:
    e = segment_exports.c
    rows = await conn.execute(
        select(segment_exports)
        .where(e.portal_id == portal_id)
        .order_by(e.started_at.desc(), e.id.desc())
        .limit(limit)
    )
    return list(rows)


async def exported_today(conn: AsyncConnection, portal_id: int, segment: str, day: Any) -> bool:
    e = segment_exports.c
    found = await conn.scalar(
        select(func.count()).where(
            e.portal_id == portal_id,
            e.segment == segment,
            e.day == day,
            e.trigger == "daily",
            e.status == "done",
        )
    )
    return bool(found)
