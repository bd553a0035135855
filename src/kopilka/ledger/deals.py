"""Make a deal's ledger match what the program wants for it now (DESIGN D4).

The engine says what a deal *should* have produced (accruals per contact and rule, a payment with
points); this module reads what the ledger *has* for the deal and posts only the difference:

* an accrual whose amount changed, or that is no longer wanted, is reversed (and re-posted at the
  new amount); one that is right is left alone — so running it twice, or for a duplicated or
  late event, changes nothing;
* a payment with points is a hold while the deal is open, captured when it is won, released when
  it is lost; a changed amount releases the old hold and places a new one; a won deal that is
  reopened or lost gets its captured points back.

Everything for one deal happens under a transaction-scoped advisory lock on that deal, so two
workers never reconcile one deal at the same time; every entry carries ``reference`` = the deal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from kopilka.db.tables import accounts, holds, ledger_entries, ledger_transactions
from kopilka.domain.deal import CustomerHistory, Deal, StageSemantic
from kopilka.domain.effects import Accrual, DealEffects, Redemption
from kopilka.domain.engine import evaluate_deal
from kopilka.ledger.accrual import AccrualRequest, accrue_many
from kopilka.ledger.queries import balance
from kopilka.ledger.reversal import reverse
from kopilka.ledger.spending import capture_hold, get_hold, place_hold, release_hold
from kopilka.ledger.types import Book, HoldView, Posted
from kopilka.program.model import Program


@dataclass(frozen=True, slots=True)
class LiveAccrual:
    transaction_id: int
    customer_id: int
    rule_id: str
    amount: int


@dataclass(frozen=True, slots=True)
class LiveCapture:
    transaction_id: int
    customer_id: int
    amount: int


@dataclass(slots=True)
class DealLedger:
    """What the ledger holds for one deal right now."""

    accruals: list[LiveAccrual] = field(default_factory=list)
    active_hold: HoldView | None = None
    active_hold_customer: int | None = None
    captures: list[LiveCapture] = field(default_factory=list)
    entries: int = 0  # transactions ever posted for the deal: numbers the next keys


@dataclass(slots=True)
class Reconciled:
    posted: list[Posted] = field(default_factory=list)
    hold: HoldView | None = None

    @property
    def changed(self) -> bool:
        return bool(self.posted) or self.hold is not None


async def lock_reference(conn: AsyncConnection, book: Book, reference: str) -> None:
    await lock_references(conn, book, [reference])


async def lock_references(conn: AsyncConnection, book: Book, references: Iterable[str]) -> None:
    """Transaction-scoped advisory locks on the deals, taken in one order by every caller."""
    keys = sorted({f"kopilka:{book.portal_id}:{r}" for r in references})
    await conn.execute(
        text(
            "SELECT pg_advisory_xact_lock(hashtextextended(k, 0))"
            " FROM (SELECT k FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k) AS ordered"
        ),
        {"keys": keys},
    )


async def read_deal_ledger(conn: AsyncConnection, book: Book, reference: str) -> DealLedger:
    return (await read_deal_ledgers(conn, book, [reference]))[reference]


async def read_deal_ledgers(
    conn: AsyncConnection, book: Book, references: Iterable[str]
) -> dict[str, DealLedger]:
    """What the ledger holds for each deal, in three statements for any number of deals (plus
    one per capture or active hold, which few deals have)."""
    refs = sorted(set(references))
    states = {ref: DealLedger() for ref in refs}
    if not refs:
        return states
    tx = ledger_transactions
    reversal = aliased(ledger_transactions)
    mine = (
        (tx.c.portal_id == book.portal_id)
        & (tx.c.program_id == book.program_id)
        & (tx.c.reference != "")  # the partial index on references
        & tx.c.reference.in_(refs)
    )
    for ref, count in await conn.execute(
        select(tx.c.reference, func.count()).where(mine).group_by(tx.c.reference)
    ):
        states[ref].entries = int(count)
    rows = await conn.execute(
        select(
            tx.c.id,
            tx.c.reference,
            tx.c.kind,
            tx.c.rule_id,
            accounts.c.customer_id,
            accounts.c.kind.label("ak"),
            func.sum(ledger_entries.c.amount).label("amount"),
        )
        .join(ledger_entries, ledger_entries.c.transaction_id == tx.c.id)
        .join(accounts, accounts.c.id == ledger_entries.c.account_id)
        .outerjoin(reversal, reversal.c.reverses_id == tx.c.id)
        .where(mine, tx.c.kind.in_(("accrual", "capture")), reversal.c.id.is_(None))
        .group_by(
            tx.c.id,
            tx.c.reference,
            tx.c.kind,
            tx.c.rule_id,
            accounts.c.customer_id,
            accounts.c.kind,
        )
        .order_by(tx.c.id)
    )
    for r in rows:
        state = states[r.reference]
        if r.kind == "accrual" and r.ak == "customer":
            state.accruals.append(
                LiveAccrual(int(r.id), int(r.customer_id), r.rule_id or "", int(r.amount))
            )
        elif r.kind == "capture" and r.ak == "redeemed":
            owner = await conn.scalar(
                select(accounts.c.customer_id)
                .join(ledger_entries, ledger_entries.c.account_id == accounts.c.id)
                .where(ledger_entries.c.transaction_id == r.id, accounts.c.kind == "held")
                .limit(1)
            )
            assert owner is not None, "a capture always moves points out of a held account"
            state.captures.append(LiveCapture(int(r.id), int(owner), int(r.amount)))
    active = await conn.execute(
        select(holds.c.id, holds.c.reference, accounts.c.customer_id)
        .join(accounts, accounts.c.id == holds.c.account_id)
        .where(
            holds.c.portal_id == book.portal_id,
            holds.c.reference != "",
            holds.c.reference.in_(refs),
            holds.c.status == "active",
            accounts.c.program_id == book.program_id,
        )
    )
    for hold_id, ref, customer_id in active.all():
        states[ref].active_hold = await get_hold(conn, book, int(hold_id))
        states[ref].active_hold_customer = int(customer_id)
    return states


async def spendable_for_deal(
    conn: AsyncConnection, book: Book, reference: str, customer_id: int, now: datetime
) -> int:
    """What the customer can pay this deal with: the available points, plus what the deal
    already holds or took (re-evaluating a deal must not shrink its own payment), minus what the
    deal itself earned (a deal never pays with its own points, which it may have to give back)."""
    state = await read_deal_ledger(conn, book, reference)
    held = (
        state.active_hold.amount
        if state.active_hold and state.active_hold_customer == customer_id
        else 0
    )
    taken = sum(c.amount for c in state.captures if c.customer_id == customer_id)
    earned_here = sum(a.amount for a in state.accruals if a.customer_id == customer_id)
    available = (await balance(conn, book, customer_id, now)).available
    return max(available + held + taken - earned_here, 0)


@dataclass(slots=True)
class DealPlan:
    """What reconciling one deal will post, in order: undo the payment (refund captures,
    release the hold), undo the accruals that are no longer right, post the missing accruals,
    then hold and, for a won deal, capture the payment."""

    reference: str
    entries: int  # transactions the deal had: the next key's number
    refund: list[int] = field(default_factory=list)
    release: HoldView | None = None
    release_reason: str = ""
    undo: list[tuple[int, str]] = field(default_factory=list)
    accrue: list[tuple[int, Accrual]] = field(default_factory=list)
    pay: tuple[int, int, Redemption] | None = None  # payer, amount, what the engine wanted
    hold: HoldView | None = None  # the hold kept (or None: place one when paying)
    capture: bool = False

    @property
    def accruals_only(self) -> bool:
        """Nothing but new accruals (or nothing at all): what most deals need, and what can be
        posted for many deals at once."""
        return not (self.refund or self.release or self.undo or self.pay)

    def accrual_requests(self, common: _Common) -> list[AccrualRequest]:
        """The accruals, keyed the way :func:`execute_plan` keys them when nothing is undone."""
        first = self.entries + len(self.refund) + (self.release is not None) + len(self.undo)
        return [
            AccrualRequest(
                customer_id=customer_id,
                amount=accrual.amount,
                key=f"{self.reference}:{first + n}:accrual",
                reason=accrual.explanation_ru,
                rule_id=accrual.rule_id,
                rule_inputs=accrual.rule_inputs,
                available_at=accrual.available_at,
                expires_at=accrual.expires_at,
                reference=self.reference,
                **common.kw(),
            )
            for n, (customer_id, accrual) in enumerate(self.accrue, start=1)
        ]


def plan_deal(
    state: DealLedger,
    *,
    reference: str,
    stage: StageSemantic,
    effects: DealEffects,
    customers: Mapping[int, int],
) -> DealPlan:
    """The difference between ``effects`` and the deal's ledger, as a plan (nothing posted).
    ``customers`` maps the engine's contact ids to Kopilka customer ids."""
    plan = DealPlan(reference=reference, entries=state.entries)
    want = effects.redemption if effects.redemption and effects.redemption.amount > 0 else None
    payer = customers[want.contact_id] if want else None
    amount = want.amount if want and stage != "lost" else 0
    wanted = (
        {(customers[a.contact_id], a.rule_id): a for a in effects.accruals}
        if stage == "won"
        else {}
    )
    live: dict[tuple[int, str], list[LiveAccrual]] = defaultdict(list)
    for acc in state.accruals:
        live[(acc.customer_id, acc.rule_id)].append(acc)
    keep = {
        slot
        for slot, have in live.items()
        if slot in wanted and len(have) == 1 and have[0].amount == wanted[slot].amount
    }
    # 1. Undo a payment that is no longer right: refund a capture, release a hold.
    captured = (  # exactly the payment wanted, already taken: nothing to do about it
        stage == "won"
        and len(state.captures) == 1
        and (state.captures[0].amount, state.captures[0].customer_id) == (amount, payer)
    )
    if not captured:
        plan.refund = [cap.transaction_id for cap in state.captures]
    hold = state.active_hold
    if hold and (hold.amount != amount or state.active_hold_customer != payer):
        plan.release = hold
        plan.release_reason = (
            "сделка проиграна: резерв снят" if stage == "lost" else "оплата баллами изменена"
        )
        hold = None
    # 2. Undo accruals that are no longer right; 3. post the missing ones.
    for slot in sorted(set(live) - keep):
        why = (
            "сделка изменена: начисление пересчитано"
            if slot in wanted
            else "сделка больше не выиграна"
        )
        plan.undo += [(acc.transaction_id, why) for acc in live[slot]]
    plan.accrue = [
        (slot[0], wanted[slot]) for slot in sorted(set(wanted) - keep) if wanted[slot].amount > 0
    ]
    # 4. The payment: hold it while the deal is open, capture it when the deal is won.
    if want and payer is not None and amount > 0 and not captured:
        plan.pay = (payer, amount, want)
        plan.hold = hold
        plan.capture = stage == "won"
    return plan


async def execute_plan(
    conn: AsyncConnection, book: Book, plan: DealPlan, common: _Common, hold_ttl: timedelta
) -> Reconciled:
    out = Reconciled()
    seq = plan.entries

    def key(what: str) -> str:
        nonlocal seq
        seq += 1
        return f"{plan.reference}:{seq}:{what}"

    async def undo(tx_id: int, why: str) -> None:
        out.posted.append(
            await reverse(
                conn, book, transaction_id=tx_id, key=key("reversal"), reason=why, **common.kw()
            )
        )

    for tx_id in plan.refund:
        await undo(tx_id, "оплата баллами по сделке отменена")
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
                    reason="сделка выиграна: оплата баллами",
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
    return await execute_plan(conn, book, plan, _Common(actor, now, source), hold_ttl)


@dataclass(frozen=True, slots=True)
class _Common:
    actor: str
    now: datetime
    source: str

    def kw(self) -> dict[str, Any]:
        return {"actor": self.actor, "now": self.now, "source": self.source}


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

    The outcome is the one :func:`settle_deal` would reach for each deal: the same plan, the same
    keys; only the payer's balance is not read, since no payment is involved.
    """
    asked = [d for d in deals if d.deal.points_to_pay <= 0]
    refs = {d.deal.id: deal_reference(d.deal.id) for d in asked}
    await lock_references(conn, book, refs.values())
    states = await read_deal_ledgers(conn, book, refs.values())
    plans: list[tuple[Deal, DealEffects, DealPlan]] = []
    for item in asked:
        deal = item.deal
        effects = evaluate_deal(program, deal, dict(item.histories), now)
        if effects.redemption is not None:
            continue
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
        plan.accrual_requests(_Common(actor, now, f"deal {deal.id}")) for deal, _, plan in plans
    ]
    flat = [r for rs in requests for r in rs]
    posted = await accrue_many(conn, book, flat) if flat else []
    out: dict[int, tuple[DealEffects, Reconciled]] = {}
    at = 0
    for (deal, effects, _), rs in zip(plans, requests, strict=True):
        out[deal.id] = (effects, Reconciled(posted=posted[at : at + len(rs)]))
        at += len(rs)
    return out
