"""Posting a deal's plan under its lock: one deal at a time (:func:`reconcile_deal`,
:func:`settle_deal`) or many plain deals at once (:func:`settle_plain_deals`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.domain.deal import CustomerHistory, Deal, StageSemantic
from kopilka.domain.effects import DealEffects
from kopilka.domain.engine import evaluate_deal
from kopilka.domain.texts import say
from kopilka.ledger.accrual import accrue_many
from kopilka.ledger.deals.budget import budgeted, within_budgets
from kopilka.ledger.deals.plan import Common, DealPlan, plan_deal
from kopilka.ledger.deals.state import (
    Reconciled,
    lock_reference,
    lock_references,
    read_deal_ledger,
    read_deal_ledgers,
    spendable_for_deal,
)
from kopilka.ledger.reversal import reverse
from kopilka.ledger.spending import capture_hold, place_hold, release_hold
from kopilka.ledger.types import Book
from kopilka.program.model import Program


async def execute_plan(
    conn: AsyncConnection, book: Book, plan: DealPlan, common: Common, hold_ttl: timedelta
) -> Reconciled:
    out = Reconciled()
    seq = plan.entries

    def key(what: str) -> str:
        nonlocal seq
        seq += 1
        return plan.key(seq, what)

    async def undo(tx_id: int, why: str) -> None:
        out.posted.append(
            await reverse(
                conn, book, transaction_id=tx_id, key=key("reversal"), reason=why, **common.kw()
            )
        )

    for tx_id in plan.refund:
        await undo(tx_id, say("ru", "reason.refund"))
    if plan.release is not None:
        out.posted.append(
            await release_hold(
                conn,
                book,
                hold_id=plan.release.id,
                key=key("release"),
                reason=plan.release_reason,
                **common.kw(),
            )
        )
    for tx_id, why in plan.undo:
        await undo(tx_id, why)
    if plan.accrue:
        out.posted += await accrue_many(conn, book, plan.accrual_requests(common))
        seq += len(plan.accrue)
    if plan.pay is not None:
        payer, amount, want = plan.pay
        hold = plan.hold
        if hold is None:
            hold = await place_hold(
                conn,
                book,
                customer_id=payer,
                amount=amount,
                key=key("hold"),
                reason=want.explanation_ru,
                expires_at=common.now + hold_ttl,
                reference=plan.reference,
                **common.kw(),
            )
            out.hold = hold
        if plan.capture:
            out.posted.append(
                await capture_hold(
                    conn,
                    book,
                    hold_id=hold.id,
                    key=key("capture"),
                    reason=say("ru", "reason.capture"),
                    **common.kw(),
                )
            )
    return out


async def reconcile_deal(
    conn: AsyncConnection,
    book: Book,
    *,
    reference: str,
    stage: StageSemantic,
    effects: DealEffects,
    customers: Mapping[int, int],
    now: datetime,
    hold_ttl: timedelta,
    actor: str = "sync",
    source: str = "",
) -> Reconciled:
    """Post the difference between ``effects`` and the deal's ledger (:func:`plan_deal`).

    Undoing comes first (the payment, then the accruals), so that the points it frees are there
    for what is posted next (the accruals, then the payment).
    """
    await lock_reference(conn, book, reference)
    state = await read_deal_ledger(conn, book, reference)
    plan = plan_deal(state, reference=reference, stage=stage, effects=effects, customers=customers)
    return await execute_plan(conn, book, plan, Common(actor, now, source), hold_ttl)


def deal_reference(deal_id: int) -> str:
    return f"deal:{deal_id}"


async def settle_deal(
    conn: AsyncConnection,
    book: Book,
    program: Program,
    deal: Deal,
    *,
    customers: Mapping[int, int],
    now: datetime,
    histories: Mapping[int, CustomerHistory] | None = None,
    actor: str = "sync",
    source: str = "",
) -> tuple[DealEffects, Reconciled]:
    """Evaluate ``deal`` with the program and make its ledger match.

    The payer's spendable points, as the engine sees them, are :func:`spendable_for_deal`.
    """
    reference = deal_reference(deal.id)
    await lock_reference(conn, book, reference)
    known = dict(histories or {})
    for contact in deal.contacts:
        spendable = await spendable_for_deal(conn, book, reference, customers[contact.id], now)
        known[contact.id] = replace(
            known.get(contact.id, CustomerHistory()), available_points=spendable
        )
    effects = evaluate_deal(program, deal, known, now)
    effects = await within_budgets(conn, book, program, reference, effects)
    result = await reconcile_deal(
        conn,
        book,
        reference=reference,
        stage=deal.stage,
        effects=effects,
        customers=customers,
        now=now,
        hold_ttl=timedelta(hours=program.redemption.hold_ttl_hours),
        actor=actor,
        source=source or f"deal {deal.id}",
    )
    return effects, result


@dataclass(frozen=True, slots=True)
class DealToSettle:
    deal: Deal
    customers: Mapping[int, int]  # the engine's contact ids -> Kopilka customer ids
    histories: Mapping[int, CustomerHistory]


async def settle_plain_deals(
    conn: AsyncConnection,
    book: Book,
    program: Program,
    deals: Sequence[DealToSettle],
    *,
    now: datetime,
    actor: str = "sync",
) -> dict[int, tuple[DealEffects, Reconciled]]:
    """Settle many deals at once, in a handful of statements, when each needs nothing but new
    accruals: no points payment asked or held, nothing to undo (a deal won, a deal synced again).
    The answer leaves out the deals this cannot do; :func:`settle_deal` does those, one by one.

    Deals that would take from a campaign's budget are left out too (it is read under the
    campaign's lock). The outcome is the one :func:`settle_deal` would reach for each deal: the
    same plan, the same keys; only the payer's balance is not read, since no payment is involved.
    """
    asked = [d for d in deals if d.deal.points_to_pay <= 0]
    refs = {d.deal.id: deal_reference(d.deal.id) for d in asked}
    await lock_references(conn, book, refs.values())
    states = await read_deal_ledgers(conn, book, refs.values())
    plans: list[tuple[Deal, DealEffects, DealPlan]] = []
    for item in asked:
        deal = item.deal
        effects = evaluate_deal(program, deal, dict(item.histories), now)
        if effects.redemption is not None or budgeted(program, effects):
            continue  # a payment, or a campaign budget to take from: deal by deal
        plan = plan_deal(
            states[refs[deal.id]],
            reference=refs[deal.id],
            stage=deal.stage,
            effects=effects,
            customers=item.customers,
        )
        if plan.accruals_only:
            plans.append((deal, effects, plan))
    requests = [
        plan.accrual_requests(Common(actor, now, f"deal {deal.id}")) for deal, _, plan in plans
    ]
    flat = [r for rs in requests for r in rs]
    posted = await accrue_many(conn, book, flat) if flat else []
    out: dict[int, tuple[DealEffects, Reconciled]] = {}
    at = 0
    for (deal, effects, _), rs in zip(plans, requests, strict=True):
        out[deal.id] = (effects, Reconciled(posted=posted[at : at + len(rs)]))
        at += len(rs)
    return out
