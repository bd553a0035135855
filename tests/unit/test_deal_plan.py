"""The plan of a deal's reconciliation is pure (no database): what the engine wants against what
the deal's ledger holds gives exactly the steps to post, and nothing when they agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kopilka.domain.deal import StageSemantic
from kopilka.domain.effects import Accrual, DealEffects, Redemption
from kopilka.ledger.deals import DealLedger, DealPlan, LiveAccrual, LiveCapture, plan_deal
from kopilka.ledger.types import HoldView

T0 = datetime(2026, 6, 1, tzinfo=UTC)
ANNA, BORIS = 11, 12  # contacts; their customers are 101 and 102
CUSTOMERS = {ANNA: 101, BORIS: 102}


def accrual(contact: int, amount: int, rule: str = "earn[0]") -> Accrual:
    return Accrual(contact, amount, rule, {}, "начислено", "earned", T0, None)


def payment(contact: int, amount: int) -> Redemption:
    return Redemption(contact, amount, amount, amount, "none", {}, "оплата", "paid")


def hold(amount: int) -> HoldView:
    return HoldView(7, 501, amount, 0, "active", "deal:9", T0 + timedelta(days=3), T0, None)


def effects(*accruals: Accrual, pay: Redemption | None = None) -> DealEffects:
    return DealEffects(deal_id=9, program_hash="h", accruals=accruals, redemption=pay)


def plan(state: DealLedger, stage: StageSemantic, wanted: DealEffects) -> DealPlan:
    return plan_deal(state, reference="deal:9", stage=stage, effects=wanted, customers=CUSTOMERS)


def test_a_newly_won_deal_accrues_each_contact_once() -> None:
    p = plan(DealLedger(), "won", effects(accrual(ANNA, 300_00), accrual(BORIS, 200_00)))
    assert p.accrue == [(101, accrual(ANNA, 300_00)), (102, accrual(BORIS, 200_00))]
    assert p.accruals_only
    assert (p.undo, p.refund, p.release, p.pay) == ([], [], None, None)


def test_a_deal_settled_again_plans_nothing() -> None:
    state = DealLedger(accruals=[LiveAccrual(1, 101, "earn[0]", 300_00)], entries=1)
    p = plan(state, "won", effects(accrual(ANNA, 300_00)))
    assert (p.accrue, p.undo, p.refund, p.release, p.pay) == ([], [], [], None, None)


def test_a_changed_amount_is_undone_and_posted_anew_with_the_next_keys() -> None:
    state = DealLedger(accruals=[LiveAccrual(1, 101, "earn[0]", 300_00)], entries=1)
    p = plan(state, "won", effects(accrual(ANNA, 360_00)))
    assert p.undo == [(1, "сделка изменена: начисление пересчитано")]
    assert p.accrue == [(101, accrual(ANNA, 360_00))]
    assert not p.accruals_only
    assert p.entries == 1


def test_a_lost_deal_undoes_its_accruals_and_releases_its_hold() -> None:
    state = DealLedger(
        accruals=[LiveAccrual(1, 101, "earn[0]", 300_00)],
        active_hold=hold(400_00),
        active_hold_customer=101,
        entries=2,
    )
    p = plan(state, "lost", effects(accrual(ANNA, 300_00), pay=payment(ANNA, 400_00)))
    assert p.undo == [(1, "сделка больше не выиграна")]
    assert p.release == hold(400_00)
    assert p.release_reason == "сделка проиграна: резерв снят"
    assert (p.accrue, p.pay) == ([], None)


def test_an_open_deal_holds_its_payment_and_a_won_one_captures_it() -> None:
    pay = payment(ANNA, 400_00)
    opened = plan(DealLedger(), "process", effects(pay=pay))
    assert opened.pay == (101, 400_00, pay)
    assert (opened.hold, opened.capture, opened.accrue) == (None, False, [])
    held = DealLedger(active_hold=hold(400_00), active_hold_customer=101, entries=1)
    won = plan(held, "won", effects(accrual(ANNA, 300_00), pay=pay))
    assert won.pay == (101, 400_00, pay)
    assert won.hold == hold(400_00)  # the hold kept, to be captured
    assert won.capture
    assert won.release is None
    taken = DealLedger(captures=[LiveCapture(3, 101, 400_00)], entries=2)
    again = plan(taken, "won", effects(pay=pay))
    assert (again.pay, again.refund, again.capture) == (None, [], False)


def test_a_changed_payment_releases_the_old_hold_and_refunds_nothing_it_did_not_take() -> None:
    held = DealLedger(active_hold=hold(400_00), active_hold_customer=101, entries=1)
    p = plan(held, "process", effects(pay=payment(ANNA, 250_00)))
    assert p.release == hold(400_00)
    assert p.release_reason == "оплата баллами изменена"
    assert p.pay == (101, 250_00, payment(ANNA, 250_00))
    assert p.refund == []
