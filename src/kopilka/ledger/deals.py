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
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from kopilka.db.tables import accounts, holds, ledger_entries, ledger_transactions
from kopilka.domain.deal import CustomerHistory, Deal, StageSemantic
from kopilka.domain.effects import DealEffects
from kopilka.domain.engine import evaluate_deal
from kopilka.ledger.accrual import accrue
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
    await conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
        {"k": f"kopilka:{book.portal_id}:{reference}"},
    )


async def read_deal_ledger(conn: AsyncConnection, book: Book, reference: str) -> DealLedger:
    tx = ledger_transactions
    reversal = aliased(ledger_transactions)
    state = DealLedger()
    state.entries = int(
        await conn.scalar(
            select(func.count()).where(
                tx.c.portal_id == book.portal_id,
                tx.c.program_id == book.program_id,
                tx.c.reference == reference,
            )
        )
        or 0
    )
    rows = await conn.execute(
        select(
            tx.c.id,
            tx.c.kind,
            tx.c.rule_id,
            accounts.c.customer_id,
            accounts.c.kind.label("ak"),
            func.sum(ledger_entries.c.amount).label("amount"),
        )
        .join(ledger_entries, ledger_entries.c.transaction_id == tx.c.id)
        .join(accounts, accounts.c.id == ledger_entries.c.account_id)
        .outerjoin(reversal, reversal.c.reverses_id == tx.c.id)
        .where(
            tx.c.portal_id == book.portal_id,
            tx.c.program_id == book.program_id,
            tx.c.reference == reference,
            tx.c.kind.in_(("accrual", "capture")),
            reversal.c.id.is_(None),
        )
        .group_by(tx.c.id, tx.c.kind, tx.c.rule_id, accounts.c.customer_id, accounts.c.kind)
    )
    for r in rows:
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
    hold_id = await conn.scalar(
        select(holds.c.id)
        .where(
            holds.c.portal_id == book.portal_id,
            holds.c.reference == reference,
            holds.c.status == "active",
        )
        .join(accounts, accounts.c.id == holds.c.account_id)
        .where(accounts.c.program_id == book.program_id)
    )
    if hold_id is not None:
        state.active_hold = await get_hold(conn, book, int(hold_id))
        state.active_hold_customer = await conn.scalar(
            select(accounts.c.customer_id).where(accounts.c.id == state.active_hold.account_id)
        )
    return state


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
    """Post the difference between ``effects`` and the deal's ledger. ``customers`` maps the
    engine's contact ids to Kopilka customer ids.

    Undoing comes first (the payment, then the accruals), so that the points it frees are there
    for what is posted next (the accruals, then the payment).
    """
    await lock_reference(conn, book, reference)
    state = await read_deal_ledger(conn, book, reference)
    out = Reconciled()
    seq = state.entries
    common = _Common(actor=actor, now=now, source=source)

    def key(what: str) -> str:
        nonlocal seq
        seq += 1
        return f"{reference}:{seq}:{what}"

    async def undo(tx_id: int, why: str) -> None:
        out.posted.append(
            await reverse(
                conn, book, transaction_id=tx_id, key=key("reversal"), reason=why, **common.kw()
            )
        )

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
    captured_right = (
        stage == "won"
        and len(state.captures) == 1
        and (state.captures[0].amount, state.captures[0].customer_id) == (amount, payer)
    )
    if not captured_right:
        for cap in state.captures:
            await undo(cap.transaction_id, "оплата баллами по сделке отменена")
        state.captures = []
    hold = state.active_hold
    if hold and (hold.amount != amount or state.active_hold_customer != payer):
        why = "сделка проиграна: резерв снят" if stage == "lost" else "оплата баллами изменена"
        out.posted.append(
            await release_hold(
                conn, book, hold_id=hold.id, key=key("release"), reason=why, **common.kw()
            )
        )
        hold = None

    # 2. Undo accruals that are no longer right; 3. post the missing ones.
    for slot in sorted(set(live) - keep):
        why = (
            "сделка изменена: начисление пересчитано"
            if slot in wanted
            else "сделка больше не выиграна"
        )
        for acc in live[slot]:
            await undo(acc.transaction_id, why)
    for slot in sorted(set(wanted) - keep):
        accrual = wanted[slot]
        if accrual.amount > 0:
            out.posted.append(
                await accrue(
                    conn,
                    book,
                    customer_id=slot[0],
                    amount=accrual.amount,
                    key=key("accrual"),
                    reason=accrual.explanation_ru,
                    rule_id=accrual.rule_id,
                    rule_inputs=accrual.rule_inputs,
                    available_at=accrual.available_at,
                    expires_at=accrual.expires_at,
                    reference=reference,
                    **common.kw(),
                )
            )

    # 4. The payment: hold it while the deal is open, capture it when the deal is won.
    if want and payer is not None and amount > 0 and not state.captures:
        if hold is None:
            hold = await place_hold(
                conn,
                book,
                customer_id=payer,
                amount=amount,
                key=key("hold"),
                reason=want.explanation_ru,
                expires_at=now + hold_ttl,
                reference=reference,
                **common.kw(),
            )
            out.hold = hold
        if stage == "won":
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
