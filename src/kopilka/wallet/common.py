"""What a wallet card shows for one customer, whatever the wallet: the card number (the phone),
the balance, the level, the points expiring soon, and the program's look and words.

Both wallets build their pass from :func:`card_view`; the texts are the customer's (the
program's locale), never the CRM's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.api.portal import customer_by_id, customer_level
from kopilka.cabinet.card import pretty_number
from kopilka.db.tables import portals
from kopilka.domain.money import format_points
from kopilka.ledger.queries import balance
from kopilka.lifecycle.service import active_program

WORDS = {
    "ru": {
        "points": "Баллы",
        "level": "Уровень",
        "expiring": "сгорят до {date}",
        "expiring_label": "Скоро сгорят",
        "no_expiring": "Сгорающих нет",
        "card": "Карта",
        "holder": "Владелец",
        "card_of": "Бонусная карта {shop}",
        "changed": "Баланс: %@",
        "terms": "Условия",
    },
    "en": {
        "points": "Points",
        "level": "Level",
        "expiring": "expire by {date}",
        "expiring_label": "Expiring soon",
        "no_expiring": "None expiring",
        "card": "Card",
        "holder": "Holder",
        "card_of": "{shop} bonus card",
        "changed": "Balance: %@",
        "terms": "Terms",
    },
}


@dataclass(frozen=True, slots=True)
class CardView:
    portal_id: int
    customer_id: int
    locale: str  # "ru" | "en": the program's
    shop: str  # the shop's name, as the customer knows it
    holder: str
    card_number: str | None  # E.164: what the barcode carries; None: no card issued
    display_number: str | None  # '+7 912 345-67-89'
    balance: int  # kopecks of points spendable now
    balance_text: str  # '1 250' (the program's step: no kopecks for whole points)
    points_label: str  # «Баллы» or the program's own word
    level: str | None  # the level's title; None: the program has no levels, or below the first
    expiring: int  # points expiring within the program's window
    expiring_text: str | None
    expiring_at: datetime | None  # the soonest of them
    barcode: str  # "qr" | "code128"
    background: str  # '#rrggbb'
    foreground: str
    label: str
    terms: str | None
    description: str  # «Бонусная карта <shop>»: for VoiceOver and the wallet's list
    change_message: str  # shown on the lock screen when the balance changes (%@ = new value)

    def word(self, key: str) -> str:
        return WORDS[self.locale][key]


async def card_view(
    conn: AsyncConnection, portal_id: int, customer_id: int, now: datetime
) -> CardView:
    """The card as it stands at ``now`` (raises ``UnknownCustomer`` for another portal's)."""
    book, program = await active_program(conn, portal_id, now)
    customer = await customer_by_id(conn, portal_id, customer_id)
    bal = await balance(conn, book, customer_id, now)
    level = await customer_level(conn, book, program, customer, now)
    look = program.wallet
    words = WORDS[program.locale]
    soon = now + timedelta(days=look.expiring_days)
    lots = [x for x in bal.expiring if x.expires_at is not None and x.expires_at <= soon]
    expiring = sum(x.remaining for x in lots)
    first = min((x.expires_at for x in lots if x.expires_at is not None), default=None)
    portal_title = await conn.scalar(select(portals.c.title).where(portals.c.id == portal_id))
    shop = look.shop_name or program.title or str(portal_title or "")
    local_first = first.astimezone(book.timezone) if first is not None else None
    number = customer.card_number if customer.card_status == "active" else None
    return CardView(
        portal_id=portal_id,
        customer_id=customer_id,
        locale=program.locale,
        shop=shop,
        holder=customer.name,
        card_number=number,
        display_number=pretty_number(number) if number else None,
        balance=bal.available,
        balance_text=_points(bal.available, program.points.step_minor),
        points_label=look.points_label or words["points"],
        level=level.title if level is not None else None,
        expiring=expiring,
        expiring_text=(
            f"{_points(expiring, program.points.step_minor)} · "
            + words["expiring"].format(date=local_first.strftime("%d.%m.%Y"))
            if local_first is not None
            else None
        ),
        expiring_at=first,
        barcode=look.barcode,
        background=look.background,
        foreground=look.foreground,
        label=look.label,
        terms=look.terms,
        description=words["card_of"].format(shop=shop),
        change_message=words["changed"],
    )


def _points(minor: int, step_minor: int) -> str:
    """Whole points without ',00' when the program counts whole points."""
    text = format_points(minor)
    return text.split(",")[0] if step_minor == 100 and minor % 100 == 0 else text
