"""The plan of a deal's reconciliation, pure: the difference between what the engine wants for
the deal and what its ledger holds (nothing read, nothing posted)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kopilka.domain.deal import StageSemantic
from kopilka.domain.effects import Accrual, DealEffects, Redemption
from kopilka.domain.texts import say
from kopilka.ledger.accrual import AccrualRequest
from kopilka.ledger.deals.state import DealLedger, LiveAccrual
from kopilka.ledger.types import HoldView


@dataclass(frozen=True, slots=True)
class Common:
    """Who posts a deal's entries, when, and because of what (every entry of a plan)."""

    actor: str
    now: datetime
    source: str

    def kw(self) -> dict[str, Any]:
        return {"actor": self.actor, "now": self.now, "source": self.source}


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
    #: what the plan's idempotency keys start with (default: the reference); a deliberate
    #: re-pricing keys its entries by deal and version (``deal:7:reprice:<hash>``)
    key_base: str = ""

    def key(self, seq: int, what: str) -> str:
        return f"{self.key_base or self.reference}:{seq}:{what}"

    @property
    def accruals_only(self) -> bool:
        """Nothing but new accruals (or nothing at all): what most deals need, and what can be
        posted for many deals at once."""
        return not (self.refund or self.release or self.undo or self.pay)

    def accrual_requests(self, common: Common) -> list[AccrualRequest]:
        """The accruals, keyed the way :func:`execute_plan` keys them when nothing is undone."""
        first = self.entries + len(self.refund) + (self.release is not None) + len(self.undo)
        return [
            AccrualRequest(
                customer_id=customer_id,
                amount=accrual.amount,
                key=self.key(first + n, "accrual"),
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
            say("ru", "reason.lost") if stage == "lost" else say("ru", "reason.pay_changed")
        )
        hold = None
    # 2. Undo accruals that are no longer right; 3. post the missing ones.
    for slot in sorted(set(live) - keep):
        why = say("ru", "reason.recounted") if slot in wanted else say("ru", "reason.not_won")
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
