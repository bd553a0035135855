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
    share = level_share if level_share is not None else program.redemption.max_share
    inputs = {
        "requested": requested,
        "order_amount": order_amount,
        "max_share": str(share),
        "share_from_level": level_share is not None,
        "available_points": history.available_points,
        "payer": payer.id,
    }
    if not payable_here(program, deal.pipeline_id):
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
    share_cap = share_limit(program, order_amount, share)
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


def payable_here(program: Program, pipeline_id: int) -> bool:
    """Whether points may pay for deals of the pipeline at all."""
    allowed = program.pipeline_ids(program.redemption.applies_in)
    return allowed is None or pipeline_id in allowed


def share_limit(program: Program, order_amount: int, share: Decimal) -> int:
    """The most points may pay of an order by its share alone, in whole steps."""
    return percent_of(order_amount, share, rounding="down", step=program.points.step_minor)


def payable_cap(
    program: Program,
    deal: Deal,
    order_amount: int,
    level_share: Decimal | None,
    spendable: int,
) -> int:
    """The most this deal may pay with points now (what the manager may ask for): the order
    share (a level's, or the program's) and the payer's spendable points, whichever is less;
    nothing in a pipeline where points do not pay."""
    if not payable_here(program, deal.pipeline_id):
        return 0
    share = level_share if level_share is not None else program.redemption.max_share
    return min(share_limit(program, order_amount, share), max(spendable, 0))
