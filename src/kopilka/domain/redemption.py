"""Paying with points: the amount asked for, capped by the order share and by the balance."""

from __future__ import annotations

from decimal import Decimal

from kopilka.domain.deal import Contact, CustomerHistory, Deal
from kopilka.domain.effects import CappedBy, Redemption
from kopilka.domain.explain import percent_text, points_en, points_ru, rub
from kopilka.domain.money import format_points, percent_of
from kopilka.program.model import Program


def redeem(
    program: Program,
    deal: Deal,
    payer: Contact,
    history: CustomerHistory,
    order_amount: int,
    level_share: Decimal | None,
) -> Redemption | None:
    """The redemption a deal asks for; None when it asks for nothing."""
    requested = deal.points_to_pay
    if requested <= 0:
        return None
    policy = program.redemption
    allowed = program.pipeline_ids(policy.applies_in)
    share = level_share if level_share is not None else policy.max_share
    inputs = {
        "requested": requested,
        "order_amount": order_amount,
        "max_share": str(share),
        "share_from_level": level_share is not None,
        "available_points": history.available_points,
        "payer": payer.id,
    }
    if allowed is not None and deal.pipeline_id not in allowed:
        return Redemption(
            payer.id,
            requested,
            0,
            0,
            "pipeline",
            inputs,
            "Оплата бонусами в этом направлении не применяется",
            "Paying with points is not applicable in this pipeline",
        )
    share_cap = percent_of(order_amount, share, rounding="down", step=program.points.step_minor)
    cap = min(share_cap, max(history.available_points, 0))
    amount = min(requested, cap)
    capped_by: CappedBy = "none"
    if amount < requested:
        capped_by = "share" if share_cap <= history.available_points else "balance"
    inputs |= {"share_cap": share_cap, "cap": cap, "capped_by": capped_by}
    ru = f"Списать {points_ru(amount)} из {format_points(requested)} запрошенных"
    en = f"Pay {points_en(amount)} of {format_points(requested)} asked"
    if capped_by == "share":
        ru += f": не больше {percent_text(share)} от заказа {rub(order_amount)}"
        en += f": at most {percent_text(share, locale='en')} of the {rub(order_amount)} order"
    elif capped_by == "balance":
        ru += f": на счёте {points_ru(history.available_points)}"
        en += f": the balance is {points_en(history.available_points)}"
    return Redemption(payer.id, requested, amount, cap, capped_by, inputs, ru, en)
