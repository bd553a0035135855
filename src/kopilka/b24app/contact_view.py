"""What the contact's «Бонусы» tab shows: the balance, points expiring soon, the level and the
way to the next one, the card, a page of the ledger with each entry's deal, and the manual
reasons the user may grant with what is left of each limit."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.api.portal import CustomerRef, customer_by_id, customer_level
from kopilka.b24app.permissions import granter_of
from kopilka.b24app.schemas import AppUser
from kopilka.db.tables import accounts, customers
from kopilka.domain.manual import period_start
from kopilka.ledger.grants import granted_by, granted_since, rule_id_for
from kopilka.ledger.queries import HistoryLine, balance, history
from kopilka.ledger.types import Balance, Book
from kopilka.program.model import Program

PAGE = 20
EXPIRING_WITHIN = timedelta(days=90)


@dataclass(frozen=True, slots=True)
class Reason:
    """A manual reason as the form offers it, with what is left for this contact."""

    key: str
    title: str
    default_amount: int | None
    max_per_grant: int
    per_period: int | None
    period: str | None
    left_for_contact: int | None
    comment_required: bool


def deal_of(reference: str) -> int | None:
    """``deal:5`` or ``deal:5:contact:7`` → 5."""
    kind, _, rest = reference.partition(":")
    head = rest.split(":", 1)[0]
    return int(head) if kind == "deal" and head.isdigit() else None


async def customer_of(conn: AsyncConnection, portal_id: int, contact_id: int) -> CustomerRef:
    """The contact's customer, or a stand-in with no account yet (zeros, no card)."""
    found = await conn.scalar(
        select(customers.c.id).where(
            customers.c.portal_id == portal_id, customers.c.external_id == f"contact:{contact_id}"
        )
    )
    if found is None:
        return CustomerRef(0, f"contact:{contact_id}", "", None, None, None)
    return await customer_by_id(conn, portal_id, int(found))


async def ledger_page(
    conn: AsyncConnection, book: Book, customer: CustomerRef, before: int | None
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of entries (newest first) and the id to ask the next page before (None: last)."""
    if not customer.id:
        return [], None
    lines: list[HistoryLine] = await history(conn, book, customer.id, limit=PAGE + 1, before=before)
    more = lines[PAGE:]
    shown = lines[:PAGE]
    rows = [{"line": h, "deal": deal_of(h.reference), "who": _who(h)} for h in shown]
    return rows, (shown[-1].transaction_id if more else None)


async def reasons(
    conn: AsyncConnection, book: Book, program: Program, customer: CustomerRef, now: datetime
) -> list[Reason]:
    account = await conn.scalar(
        select(accounts.c.id).where(
            accounts.c.program_id == book.program_id,
            accounts.c.kind == "customer",
            accounts.c.customer_id == customer.id,
        )
    )
    found = []
    for key, bonus in program.manual_bonuses.items():
        left = None
        period = bonus.per_period
        if period is not None:
            used = 0
            if account is not None:
                since = period_start(period.period, now, program.tz)
                used = await granted_since(conn, book, account, rule_id_for(key), since)
            left = max(period.max_total - used, 0)
        found.append(
            Reason(
                key,
                bonus.title,
                bonus.default_amount,
                bonus.max_per_grant,
                period.max_total if period else None,
                period.period.kind if period else None,
                left,
                bonus.comment_required,
            )
        )
    return found


async def my_limit(
    conn: AsyncConnection, book: Book, program: Program, user: AppUser, now: datetime
) -> dict[str, Any] | None:
    """The user's own limit on grants and what is left of it now (None: no limit)."""
    granter = await granter_of(conn, user.portal_id, user.user_id, user.is_admin)
    if granter.limit is None:
        return None
    since = period_start(granter.limit.period, now, program.tz)
    used = await granted_by(conn, book, granter.id, since)
    limit = granter.limit
    return {
        "max_total": limit.max_total,
        "period": limit.period.kind,
        "left": max(limit.max_total - used, 0),
        "own": limit.label.startswith("user:"),
    }


async def contact_page(
    conn: AsyncConnection,
    book: Book,
    program: Program,
    user: AppUser,
    contact_id: int,
    now: datetime,
    *,
    before: int | None = None,
) -> dict[str, Any]:
    customer = await customer_of(conn, user.portal_id, contact_id)
    shown = (
        await balance(conn, book, customer.id, now) if customer.id else Balance(0, 0, 0, 0, 0, ())
    )
    expiring = [
        lot
        for lot in shown.expiring
        if lot.expires_at is not None and lot.expires_at <= now + EXPIRING_WITHIN
    ][:5]
    level = await customer_level(conn, book, program, customer, now)
    entries, next_before = await ledger_page(conn, book, customer, before)
    return {
        "contact_id": contact_id,
        "customer": customer,
        "balance": shown,
        "expiring": expiring,
        "tz": program.tz,
        "level": level,
        "next_title": _next_title(program, level.next_level_id) if level else None,
        "level_basis": program.levels.basis if program.levels else None,
        "entries": entries,
        "next_before": next_before,
        "reasons": await reasons(conn, book, program, customer, now),
        "my_limit": await my_limit(conn, book, program, user, now),
        "grant_key": secrets.token_urlsafe(16),
    }


def _next_title(program: Program, level_id: str | None) -> str | None:
    if program.levels is None or level_id is None:
        return None
    return next((t.title for t in program.levels.tiers if t.id == level_id), None)


def _who(line: HistoryLine) -> str | None:
    """Who granted a manual bonus: the Bitrix24 user's name (``b24:user:2 Мария Соколова``)."""
    if not (line.rule_id or "").startswith("manual:"):
        return None
    actor = line.actor
    if actor.startswith("b24:user:") and " " in actor:
        return actor.split(" ", 1)[1]
    return actor
