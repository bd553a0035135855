"""A person asks, for contact C of deal D, to pay N points and to apply discounts (issue 17: the
deal's «Бонусы» tab; the robot «оплатить баллами» calls the same): checked against what the
deal offers the contact now — the cap named when it is passed — recorded with who asked and
when, and the deal hinted. The ledger is not touched here: the sync settles the deal by the
choice through the paths the deal field and the offers list use (holds, capture on win,
release on loss). One call, one transaction (the caller's); a key sent twice records once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24 import outbox
from kopilka.bitrix24.deal_choices import Choice, plain, store_choice
from kopilka.bitrix24.deal_view import ContactView, DealView, deal_view
from kopilka.bitrix24.deferred import defer_sync
from kopilka.bitrix24.sync.hints import mark_dirty
from kopilka.bitrix24.writeback import points_value
from kopilka.db.tables import b24_deal_choice_submits
from kopilka.domain.errors import KopilkaError
from kopilka.domain.offers import NOT_APPLICABLE_RU
from kopilka.lifecycle.service import active_program

KEY = re.compile(r"[A-Za-z0-9_:.-]{16,64}")


class AskRefused(KopilkaError):
    """What was asked does not fit the deal: ``reason`` names it for the page's words,
    ``values`` fills them (the cap, the percent offered)."""

    code = "ask_refused"

    def __init__(self, reason: str, message: str, **values: Any) -> None:
        super().__init__(message)
        self.reason = reason
        self.values = values


@dataclass(frozen=True, slots=True)
class Asked:
    deal_id: int
    contact_id: int
    points: int  # kopecks of points the deal will pay for the contact
    discounts: dict[str, Decimal] = field(default_factory=dict)
    via_field: bool = False  # the points were written into the deal's pay field
    replayed: bool = False  # the key was seen before: nothing new was recorded


def check(
    view: DealView, contact_id: int, points: int, discounts: Mapping[str, Decimal]
) -> ContactView:
    """The contact's view when the ask fits, else :class:`AskRefused` (pure)."""
    if view.stage != "process":
        raise AskRefused("closed", "the deal is closed: nothing can be applied to it any more")
    contact = view.contact(contact_id)
    if contact is None:
        raise AskRefused("not_on_deal", "the contact is not on this deal")
    for discount_id, percent in discounts.items():
        if percent < 0:
            raise AskRefused("negative", "a percent cannot be negative")
        if percent == 0:
            continue
        offer = next((o for o in contact.offers if o.discount_id == discount_id), None)
        if offer is None or not view.by_contact:
            raise AskRefused("no_discount", f"no discount {discount_id!r} here")
        if not offer.applicable or offer.percent is None:
            raise AskRefused("not_applicable", f"{offer.title}: not applicable", title=offer.title)
        if percent > offer.percent:
            raise AskRefused(
                "over_percent",
                f"{offer.title}: at most {offer.percent} %",
                title=offer.title,
                percent=offer.percent,
            )
    if points < 0:
        raise AskRefused("negative", "points cannot be negative")
    if points > 0:
        if not contact.pays_by:
            raise AskRefused("no_paying", "points cannot pay this deal for this contact")
        if contact.points is not None and contact.points.note_ru == NOT_APPLICABLE_RU:
            raise AskRefused("points_not_applicable", "points do not pay in this pipeline")
        if points % view.step:
            raise AskRefused(
                "step", f"points are asked in steps of {view.step / 100:g}", step=view.step
            )
        if points > contact.cap:
            raise AskRefused("over_cap", f"at most {contact.cap / 100:g} points", cap=contact.cap)
    return contact


async def ask(
    conn: AsyncConnection,
    portal_id: int,
    deal_id: int,
    contact_id: int | None,
    *,
    points: int,
    discounts: Mapping[str, Decimal],
    actor: str,
    key: str,
    now: datetime,
    up_to_cap: bool = False,
) -> Asked:
    """Record what is asked for the contact (``points`` in kopecks; ``contact_id=None``: the
    deal's payer, as a robot asks) and hint the deal. ``key``: the form's hidden key, or a
    robot's ``event_token`` (any text up to 1 000 characters: a long one is kept as its hash).
    ``up_to_cap``: more points than the cap pay the cap instead of being refused (a robot's
    «оплатить баллами» returns what was applied)."""
    if not key or len(key) > 1000:
        raise AskRefused("bad_key", "the submit key is missing or too long")
    if not KEY.fullmatch(key):
        key = "h:" + hashlib.sha256(key.encode()).hexdigest()[:62]
    found = (
        await conn.execute(
            select(b24_deal_choice_submits).where(
                b24_deal_choice_submits.c.portal_id == portal_id,
                b24_deal_choice_submits.c.submit_key == key,
            )
        )
    ).first()
    if found is not None:  # sent before: the first answer stands
        if int(found.deal_id) != deal_id or contact_id not in (None, int(found.contact_id)):
            raise AskRefused("bad_key", "the submit key was used for another contact")
        asked = {k: Decimal(str(v)) for k, v in dict(found.discounts).items()}
        return Asked(
            deal_id, int(found.contact_id), int(found.points), asked, found.via_field, True
        )
    view = await deal_view(conn, portal_id, deal_id, now)
    if contact_id is None:
        if not view.contacts:
            raise AskRefused("not_on_deal", "the deal has no contact")
        contact_id = view.contacts[0].contact_id
    if up_to_cap:
        mine = view.contact(contact_id)
        if mine is not None and points > mine.cap:
            points = mine.cap - mine.cap % view.step
    contact = check(view, contact_id, points, discounts)
    wanted = {k: v for k, v in discounts.items() if v > 0}
    via_field = contact.pays_by == "field"
    await conn.execute(
        insert(b24_deal_choice_submits).values(
            portal_id=portal_id,
            submit_key=key,
            deal_id=deal_id,
            contact_id=contact_id,
            discounts={k: plain(v) for k, v in wanted.items()},
            points=points,
            via_field=via_field,
            set_by=actor[:300],
            set_at=now,
        )
    )
    if view.by_contact:  # the contact's row (its points only where they are its own payment)
        own = 0 if via_field else points
        await store_choice(
            conn, portal_id, deal_id, Choice(contact_id, wanted, own, actor, now, key)
        )
    if via_field:  # the deal's own field is the input: the tab writes it
        _, program = await active_program(conn, portal_id, now)
        pay_field = program.fields.deal.pay_with_points
        assert pay_field is not None  # pays_by == "field" says so
        await outbox.queue_write(
            conn,
            portal_id,
            key=f"deal:{deal_id}:pay",
            method="crm.deal.update",
            params={"id": deal_id, "fields": {pay_field: points_value(points)}},
            idempotent=True,
        )
    await mark_dirty(conn, portal_id, [deal_id], "deal tab")
    await defer_sync(conn, portal_id)
    return Asked(deal_id, contact_id, points, wanted, via_field)
