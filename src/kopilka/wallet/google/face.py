"""What the Google card shows for one customer: the subset of ``kopilka.wallet.common``'s
``CardView`` (same names, same words) that :mod:`kopilka.wallet.google.objects` reads.

A stand-in written while ``wallet.common`` was being built on another branch: once both are
merged, :func:`card_face` gives way to ``wallet.common.card_view`` (whose ``CardView`` has
every attribute of :class:`CardFace`) and this module goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.api.portal import customer_by_id, customer_level
from kopilka.cabinet.card import pretty_number
from kopilka.db.tables import portals
from kopilka.domain.money import format_points
from kopilka.ledger.queries import balance
from kopilka.lifecycle.service import active_program

EXPIRING_DAYS = 30
WORDS = {
    "ru": {
        "points": "Баллы",
        "level": "Уровень",
        "expiring": "Сгорят до {date}",
        "card": "Карта",
        "holder": "Владелец",
    },
    "en": {
        "points": "Points",
        "level": "Level",
        "expiring": "Expire by {date}",
        "card": "Card",
        "holder": "Holder",
    },
}


class CardFace(Protocol):
    """What the Google objects are made of (``wallet.common.CardView`` fits)."""

    @property
    def locale(self) -> str: ...
    @property
    def shop(self) -> str: ...
    @property
    def holder(self) -> str: ...
    @property
    def card_number(self) -> str | None: ...
    @property
    def display_number(self) -> str | None: ...
    @property
    def balance_text(self) -> str: ...
    @property
    def points_label(self) -> str: ...
    @property
    def level(self) -> str | None: ...
    @property
    def expiring_text(self) -> str | None: ...
    @property
    def barcode(self) -> str: ...
    @property
    def background(self) -> str: ...
    def word(self, key: str) -> str: ...


@dataclass(frozen=True, slots=True)
class Face:
    locale: str
    shop: str
    holder: str
    card_number: str | None
    display_number: str | None
    balance: int
    balance_text: str
    points_label: str
    level: str | None
    expiring_text: str | None
    barcode: str = "qr"
    background: str = "#1e1e1e"

    def word(self, key: str) -> str:
        return WORDS[self.locale][key]


async def card_face(conn: AsyncConnection, portal_id: int, customer_id: int, now: datetime) -> Face:
    """The card as it stands at ``now`` (``UnknownCustomer`` for another portal's customer)."""
    book, program = await active_program(conn, portal_id, now)
    customer = await customer_by_id(conn, portal_id, customer_id)
    bal = await balance(conn, book, customer_id, now)
    level = await customer_level(conn, book, program, customer, now)
    soon = now + timedelta(days=EXPIRING_DAYS)
    lots = [x for x in bal.expiring if x.expires_at is not None and x.expires_at <= soon]
    first = min((x.expires_at for x in lots if x.expires_at is not None), default=None)
    title = await conn.scalar(select(portals.c.title).where(portals.c.id == portal_id))
    words = WORDS[program.locale]
    number = customer.card_number if customer.card_status == "active" else None
    expiring = sum(x.remaining for x in lots)
    return Face(
        locale=program.locale,
        shop=program.title or str(title or ""),
        holder=customer.name,
        card_number=number,
        display_number=pretty_number(number) if number else None,
        balance=bal.available,
        balance_text=format_points(bal.available),
        points_label=words["points"],
        level=level.title if level is not None else None,
        expiring_text=(
            f"{format_points(expiring)} · "
            + words["expiring"].format(date=first.astimezone(book.timezone).strftime("%d.%m.%Y"))
            if first is not None
            else None
        ),
    )
