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


async def points_reserved_for(
    conn: AsyncConnection, book: Book, reference: str, customer_id: int
) -> int:
    """Points this deal already holds or took from the customer: they count as spendable for it."""
    state = await read_deal_ledger(conn, book, reference)
    held = (
        state.active_hold.amount
        if state.active_hold_customer == customer_id and state.active_hold
        else 0
    )
    return held + sum(c.amount for c in state.captures if c.customer_id == customer_id)


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
    engine's contact ids to Kopilka customer ids."""
    await lock_reference(conn, book, reference)
    state = await read_deal_ledger(conn, book, reference)
    out = Reconciled()
    seq = state.entries

    def key(what: str) -> str:
        nonlocal seq
        seq += 1
        return f"{reference}:{seq}:{what}"

    async def undo(tx_id: int, why: str) -> None:
        out.posted.append(
            await reverse(
                conn,
                book,
                transaction_id=tx_id,
                key=key("reversal"),
                reason=why,
                actor=actor,
                now=now,
                source=source,
            )
        )

    # 1. Paying with points.
    want = effects.redemption if effects.redemption and effects.redemption.amount > 0 else None
    payer = customers[want.contact_id] if want else None
    amount = want.amount if want else 0
    if stage != "won" or not (
        len(state.captures) == 1
        and state.captures[0].amount == amount
        and state.captures[0].customer_id == payer
    ):
        for cap in state.captures:
            await undo(cap.transaction_id, "оплата баллами по сделке отменена")
        state.captures = []
    hold = state.active_hold
    if hold and (stage == "lost" or hold.amount != amount or state.active_hold_customer != payer):
        out.posted.append(
            await release_hold(
                conn,
                book,
                hold_id=hold.id,
                key=key("release"),
                reason="сделка проиграна: резерв снят"
                if stage == "lost"
                else "оплата баллами изменена",
                actor=actor,
                now=now,
                source=source,
            )
        )
        hold = None
    if want and payer is not None and stage != "lost" and not state.captures:
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
                actor=actor,
                now=now,
                source=source,
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
                    actor=actor,
                    now=now,
                    source=source,
                )
            )

    # 2. Accruals: per (customer, rule), exactly the wanted amount or nothing.
    wanted = (
        {(customers[a.contact_id], a.rule_id): a for a in effects.accruals}
        if stage == "won"
        else {}
    )
    live: dict[tuple[int, str], list[LiveAccrual]] = defaultdict(list)
    for acc in state.accruals:
        live[(acc.customer_id, acc.rule_id)].append(acc)
    for slot in sorted(set(live) | set(wanted)):
        have, accrual = live.get(slot, []), wanted.get(slot)
        if accrual and len(have) == 1 and have[0].amount == accrual.amount:
            continue
        for acc in have:
            await undo(
                acc.transaction_id,
                "сделка изменена: начисление пересчитано"
                if accrual
                else "сделка больше не выиграна",
            )
        if accrual and accrual.amount > 0:
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
                    actor=actor,
                    now=now,
                    source=source,
                )
            )
    return out


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

    The payer's spendable points, as the engine sees them, include what this very deal already
    holds or took: re-evaluating a deal must not shrink its own payment.
    """
    reference = deal_reference(deal.id)
    await lock_reference(conn, book, reference)
    known = dict(histories or {})
    for contact in deal.contacts:
        customer_id = customers[contact.id]
        spendable = (await balance(conn, book, customer_id, now)).available
        spendable += await points_reserved_for(conn, book, reference, customer_id)
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
