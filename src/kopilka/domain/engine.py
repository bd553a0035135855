"""The rule engine: a deal and its customers' histories in, the deal's desired effects out.

Pure: no database, no HTTP. The caller (the sync job, the demo) posts the difference between
these effects and what the ledger already holds for the deal (DESIGN D4).

- a won deal: accruals per contact, the redemption to capture, levels after the deal;
- a deal in progress: the redemption to hold and the discounts each contact may use;
- a lost deal: nothing to earn and nothing to redeem (a hold is released by the caller).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from kopilka.domain.campaigns import campaign_lines, share_for
from kopilka.domain.deal import Contact, CustomerHistory, Deal
from kopilka.domain.earning import ContactBase, accrue
from kopilka.domain.effects import Accrual, DealEffects, LevelStatus
from kopilka.domain.eligibility import Basket, basket
from kopilka.domain.levels import current_deal_adds, metric_of, status_for
from kopilka.domain.offers import offers_for
from kopilka.domain.redemption import redeem
from kopilka.domain.segments import Facts, resolve_segment
from kopilka.domain.split import ordered, split_total
from kopilka.program.model import Program


def evaluate_deal(
    program: Program, deal: Deal, histories: Mapping[int, CustomerHistory], now: datetime
) -> DealEffects:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    contacts = ordered(deal.contacts)
    goods = basket(program, deal)
    split = split_total(program.split, contacts, goods.eligible_amount)
    order_split = split_total(program.split, contacts, goods.order_amount)

    def history(contact_id: int) -> CustomerHistory:
        return histories.get(contact_id, CustomerHistory())

    before, after = _levels(program, deal, contacts, histories, order_split)
    common = DealEffects(
        deal.id, program.hash, levels=after, split=split, eligible_amount=goods.eligible_amount
    )
    if deal.stage == "lost" or not contacts:
        return common
    payer = contacts[0]
    level_share = before[payer.id].payable_share if payer.id in before else None
    campaign_share = _campaign_share(program, deal, payer, history(payer.id), before, now)
    if campaign_share is not None:  # a campaign on now sets the share, over the level's
        level_share = campaign_share
    redemption = redeem(program, deal, payer, history(payer.id), goods.order_amount, level_share)
    if deal.stage == "process":
        offers = offers_for(program, deal, contacts, histories, order_split, now)
        return DealEffects(
            deal.id,
            program.hash,
            (),
            redemption,
            after,
            offers,
            split,
            goods.eligible_amount,
            payable_share=campaign_share,
        )

    paid = (redemption.amount if redemption else 0) + max(deal.points_paid_by_contacts, 0)
    base_total = _base(program, goods, paid)
    base_split = split_total(program.split, contacts, base_total)
    fixed_rules = [r for r in program.earn if r.fixed is not None and r.fixed_per == "deal"]
    fixed_split = {r.id: split_total(program.split, contacts, r.fixed or 0) for r in fixed_rules}
    counted = program.levels is not None and program.levels.count_current_deal
    accruals: list[Accrual] = []
    warnings: list[str] = []
    for contact in contacts:
        facts = Facts(program, deal, contact, history(contact.id))
        segment = resolve_segment(facts)
        inputs = {
            "deal_id": deal.id,
            "order_amount": goods.order_amount,
            "eligible_amount": goods.eligible_amount,
            "paid_with_points": paid,
            "deal_base": base_total,
            "base": base_split[contact.id],
            "split_mode": program.split.mode,
            "split_share": split[contact.id],
            "eligible_rows": list(goods.rows),
            "program": program.program,
        }
        level = (after if counted else before).get(contact.id)
        cb = ContactBase(
            base_split[contact.id],
            {k: v[contact.id] for k, v in fixed_split.items()},
            segment,
            level,
            inputs,
        )
        earned_at = deal.closed_at or now  # the win: as pricing and levels count it
        mine = accrue(facts, cb, earned_at)
        level_id = level.level_id if level else None
        base = base_split[contact.id]
        mine += campaign_lines(facts, base, mine, inputs, segment, level_id, earned_at)
        accruals += mine
        warnings += facts.errors
    return DealEffects(
        deal.id,
        program.hash,
        tuple(accruals),
        redemption,
        after,
        (),
        split,
        goods.eligible_amount,
        tuple(dict.fromkeys(warnings)),
        payable_share=campaign_share,
    )


def _campaign_share(
    program: Program,
    deal: Deal,
    payer: Contact,
    history: CustomerHistory,
    before: Mapping[int, LevelStatus],
    now: datetime,
) -> Decimal | None:
    """The payable share a campaign sets for the payer (the level before the deal scopes it)."""
    status = before.get(payer.id)
    return share_for(program, deal, payer, history, status.level_id if status else None, now)


def _base(program: Program, goods: Basket, paid: int) -> int:
    """The eligible amount actually paid in money ("no points on the part paid with points").

    Points pay the order as a whole, so the eligible part carries its proportional share of them.
    """
    if program.redemption.earn_on_paid_with_points or paid == 0 or goods.order_amount == 0:
        return goods.eligible_amount
    on_eligible = Decimal(paid * goods.eligible_amount) / Decimal(goods.order_amount)
    taken = int(on_eligible.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return max(goods.eligible_amount - taken, 0)


def _levels(
    program: Program,
    deal: Deal,
    contacts: list[Contact],
    histories: Mapping[int, CustomerHistory],
    order_split: dict[int, int],
) -> tuple[dict[int, LevelStatus], dict[int, LevelStatus]]:
    """Each contact's level before this deal and after it (the deal counts only when won)."""
    levels = program.levels
    if levels is None:
        return {}, {}
    before: dict[int, LevelStatus] = {}
    after: dict[int, LevelStatus] = {}
    for contact in contacts:
        metric = metric_of(program, levels, histories.get(contact.id, CustomerHistory()))
        before[contact.id] = status_for(levels, metric)
        added = (
            current_deal_adds(program, levels, deal.pipeline_id, order_split[contact.id])
            if deal.stage == "won"
            else 0
        )
        after[contact.id] = status_for(levels, metric + added)
    return before, after
