"""Discounts and spendable points each contact of a deal may use, with «не применяется»."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from kopilka.domain.birthday import in_birthday_window
from kopilka.domain.deal import Contact, CustomerHistory, Deal
from kopilka.domain.effects import DiscountOffer
from kopilka.domain.explain import percent_text, points_en, points_ru, rub
from kopilka.domain.money import percent_of
from kopilka.domain.texts import say
from kopilka.program.model import Program
from kopilka.program.rules import Discount

NOT_APPLICABLE_RU = "не применяется"
NOT_APPLICABLE_EN = "not applicable"
_TRUE = {True, "1", "Y", "y", "true", "True"}


def offers_for(
    program: Program,
    deal: Deal,
    contacts: Sequence[Contact],
    histories: Mapping[int, CustomerHistory],
    order_split: Mapping[int, int],
    now: datetime,
) -> tuple[DiscountOffer, ...]:
    offers: list[DiscountOffer] = []
    for contact in contacts:
        history = histories.get(contact.id, CustomerHistory())
        for discount in program.discounts:
            offers.append(
                _offer(
                    program, deal, contact, history, discount, order_split.get(contact.id, 0), now
                )
            )
        offers.append(_points_offer(program, deal, contact, history))
    return tuple(offers)


def _offer(
    program: Program,
    deal: Deal,
    contact: Contact,
    history: CustomerHistory,
    discount: Discount,
    share: int,
    now: datetime,
) -> DiscountOffer:
    percent = _percent(program, contact, history, discount, now)
    allowed = program.pipeline_ids(discount.applies_in)
    if allowed is not None and deal.pipeline_id not in allowed:
        return DiscountOffer(
            contact.id,
            discount.id,
            discount.title,
            percent,
            None,
            False,
            NOT_APPLICABLE_RU,
            NOT_APPLICABLE_EN,
        )
    if percent is None:
        return DiscountOffer(
            contact.id, discount.id, discount.title, None, None, False, "нет скидки", "no discount"
        )
    amount = percent_of(share, percent, rounding="down", step=1)
    return DiscountOffer(
        contact.id,
        discount.id,
        discount.title,
        percent,
        amount,
        True,
        f"{percent_text(percent)} — {rub(amount)}",
        f"{percent_text(percent, locale='en')} — {rub(amount)}",
    )


def discount_percent(
    program: Program, contact: Contact, history: CustomerHistory, discount: Discount, now: datetime
) -> Decimal | None:
    """The percent of ``discount`` the contact has now (None: none yet, or outside its window)."""
    return _percent(program, contact, history, discount, now)


def _percent(
    program: Program, contact: Contact, history: CustomerHistory, discount: Discount, now: datetime
) -> Decimal | None:
    if discount.when_birthday_window and not _in_window(program, contact, now):
        return None
    if discount.percent is not None:
        return discount.percent
    ids = program.pipeline_ids(discount.pipelines)
    if discount.basis == "won_deals":
        metric = (
            history.won_deals
            if ids is None
            else sum(history.won_deals_by_pipeline.get(i, 0) for i in ids)
        )
        starts = [int(t.from_) for t in discount.tiers or []]
    else:
        metric = (
            history.purchases_total
            if ids is None
            else sum(history.purchases_by_pipeline.get(i, 0) for i in ids)
        )
        starts = [int(t.from_ * 100) for t in discount.tiers or []]
    reached = [t for t, start in zip(discount.tiers or [], starts, strict=True) if metric >= start]
    return reached[-1].percent if reached else None


def _in_window(program: Program, contact: Contact, now: datetime) -> bool:
    window = program.birthday
    if window is None:
        return False
    if contact.birthdate is not None:
        today = now.astimezone(program.tz).date()
        return in_birthday_window(contact.birthdate, today, window.days_before, window.days_after)
    return window.flag_field is not None and contact.fields.get(window.flag_field) in _TRUE


def _points_offer(
    program: Program, deal: Deal, contact: Contact, history: CustomerHistory
) -> DiscountOffer:
    allowed = program.pipeline_ids(program.redemption.applies_in)
    balance = max(history.available_points, 0)
    if allowed is not None and deal.pipeline_id not in allowed:
        return DiscountOffer(
            contact.id,
            "points",
            say(program.locale, "offers.account"),
            None,
            balance,
            False,
            NOT_APPLICABLE_RU,
            NOT_APPLICABLE_EN,
        )
    return DiscountOffer(
        contact.id,
        "points",
        say(program.locale, "offers.account"),
        None,
        balance,
        balance > 0,
        f"доступно {points_ru(balance)}",
        f"{points_en(balance)} available",
    )
