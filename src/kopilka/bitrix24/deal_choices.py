"""What is asked for each contact of a deal: the discount percents applied and the points paid
(R-13, issue 17) — one row per (deal, contact) in ``b24_deal_choices``, whoever asked.

Two inputs feed it: the deal's «Бонусы» tab (and the robot «оплатить баллами», which asks the
same), and the offers list's element that seed 004's portals edit. The row is the one source of
truth; the sync reads it with the deal (:func:`reconcile`), settles by it, and writes its numbers
into the list's element, so the tab and the list never show different numbers. The latest edit
wins: ``list_inputs`` is what the element asked when the row was last reconciled with it; an
element that now asks something else than that *and* than the row was edited in the list after
the row was written, and the row takes the list's numbers (``set_by`` = the list).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24.offers import Element, Layout
from kopilka.db.tables import b24_deal_choices

#: ``set_by`` of a row the offers list wrote (a manager's edit of the element)
BY_LIST = "list"


def plain(number: Decimal) -> str:
    """A number as a form field shows it: "500", "2.5" (never "5E+2")."""
    return format(number.normalize(), "f")


@dataclass(frozen=True, slots=True)
class Choice:
    """What is asked for one contact on one deal, by whom and when."""

    contact_id: int
    discounts: dict[str, Decimal]  # discount id -> percent asked
    points: int  # kopecks of points asked
    set_by: str
    set_at: datetime
    submit_key: str
    list_inputs: str | None = None

    @property
    def empty(self) -> bool:
        return self.points <= 0 and all(p <= 0 for p in self.discounts.values())


def _choice(row: Any) -> Choice:
    return Choice(
        int(row.contact_id),
        {k: Decimal(str(v)) for k, v in dict(row.discounts).items()},
        int(row.points),
        str(row.set_by),
        row.set_at,
        str(row.submit_key),
        row.list_inputs,
    )


async def read_choices(conn: AsyncConnection, portal_id: int, deal_id: int) -> dict[int, Choice]:
    """The deal's rows, by contact id."""
    c = b24_deal_choices.c
    rows = await conn.execute(
        select(b24_deal_choices).where(c.portal_id == portal_id, c.deal_id == deal_id)
    )
    return {int(r.contact_id): _choice(r) for r in rows}


async def choice_by_key(conn: AsyncConnection, portal_id: int, key: str) -> Choice | None:
    """The row a submit with this key wrote, if it is still the row's latest word."""
    c = b24_deal_choices.c
    row = (
        await conn.execute(
            select(b24_deal_choices).where(c.portal_id == portal_id, c.submit_key == key)
        )
    ).first()
    return _choice(row) if row is not None else None


async def store_choice(conn: AsyncConnection, portal_id: int, deal_id: int, choice: Choice) -> None:
    """Write the row (a new word for the contact: not yet reconciled with the list)."""
    values = {
        "discounts": {k: plain(v) for k, v in choice.discounts.items() if v > 0},
        "points": choice.points,
        "set_by": choice.set_by[:300],
        "set_at": choice.set_at,
        "submit_key": choice.submit_key,
        "list_inputs": choice.list_inputs,
    }
    stmt = insert(b24_deal_choices).values(
        portal_id=portal_id, deal_id=deal_id, contact_id=choice.contact_id, **values
    )
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["portal_id", "deal_id", "contact_id"], set_=values
        )
    )


def inputs_of(layout: Layout, element: Element | None) -> str:
    """What an element asks (its percents and points), as one comparable string."""
    props = sorted({*layout.discounts.values(), layout.fields["points"]})
    if element is None:
        return ",".join(f"{p}=0" for p in props)
    return ",".join(f"{p}={plain(element.number(p))}" for p in props)


def as_values(layout: Layout, choice: Choice) -> dict[str, str]:
    """The row's numbers as the element's properties hold them (points in whole units)."""
    values = {
        prop: plain(choice.discounts.get(discount_id, Decimal(0)))
        for discount_id, prop in layout.discounts.items()
    }
    values[layout.fields["points"]] = plain(Decimal(choice.points) / 100)
    return values


def from_element(layout: Layout, element: Element, contact_id: int, now: datetime) -> Choice:
    """A row with what the element asks (a manager's edit in the list)."""
    discounts = {d: element.number(prop) for d, prop in layout.discounts.items()}
    points = int(element.number(layout.fields["points"]) * 100)
    return Choice(
        contact_id,
        {d: p for d, p in discounts.items() if p > 0},
        points,
        BY_LIST,
        now,
        "list:" + secrets.token_hex(12),
    )


@dataclass(frozen=True, slots=True)
class Reconciled:
    """One contact's element as the sync settles it, and the row it leaves."""

    element: Element | None  # what the settle reads (the row's numbers over the element's)
    inputs: Mapping[str, Any] | None  # the numbers the element must show (None: leave them)
    row: Choice | None  # the row to store (None: none, or unchanged)


def reconcile(
    layout: Layout,
    code: str,
    contact_id: int,
    element: Element | None,
    choice: Choice | None,
    now: datetime,
) -> Reconciled:
    """The latest edit of (the row, the list's element) for one contact, pure."""
    seen = inputs_of(layout, element)
    if choice is None:
        if element is None or seen == inputs_of(layout, None):
            return Reconciled(element, None, None)
        row = from_element(layout, element, contact_id, now)
        return Reconciled(element, None, _with_seen(row, seen))
    own = as_values(layout, choice)
    mine = inputs_of(layout, Element(code, dict(own)))
    edited = choice.list_inputs is not None and seen not in (choice.list_inputs, mine)
    if element is not None and edited:
        # edited in the list after the row was written: the list's numbers are the latest
        listed = from_element(layout, element, contact_id, now)
        return Reconciled(element, None, _with_seen(listed, seen))
    values = dict(element.values) if element is not None else {}
    merged = Element(code, values | own)
    stored = _with_seen(choice, seen) if choice.list_inputs != seen else None
    return Reconciled(merged, own if seen != mine else None, stored)


def _with_seen(choice: Choice, seen: str) -> Choice:
    return Choice(
        choice.contact_id,
        choice.discounts,
        choice.points,
        choice.set_by,
        choice.set_at,
        choice.submit_key,
        seen,
    )


async def drop_choices(conn: AsyncConnection, portal_id: int, deal_id: int) -> None:
    """Forget a deleted deal's rows."""
    c = b24_deal_choices.c
    await conn.execute(
        delete(b24_deal_choices).where(c.portal_id == portal_id, c.deal_id == deal_id)
    )
