"""Scenario S1 (retail and wholesale) worked through the engine, with the scenario's numbers."""

from collections.abc import Callable
from datetime import datetime

from kopilka.domain.deal import Contact, CustomerHistory, Deal
from kopilka.domain.engine import evaluate_deal
from kopilka.program import Program

RUB = 100
RETAIL = Contact(1, type_id="CLIENT", is_primary=True)
WHOLESALE = Contact(2, type_id="1", is_primary=True)
NBSP = "\u00a0"


def test_retail_contact_wins_10000_and_earns_500(
    example: Callable[[str], Program], now: datetime
) -> None:
    program = example("retail-wholesale")
    effects = evaluate_deal(program, Deal(1, 0, "won", 10_000 * RUB, (RETAIL,)), {}, now)
    (accrual,) = effects.accruals
    assert accrual.amount == 500 * RUB
    assert accrual.rule_id == "retail-5"
    assert accrual.rule_inputs["segment"] == "retail"
    assert accrual.rule_inputs["base"] == 10_000 * RUB
    assert accrual.explanation_ru == f"+500 бонусов: 5{NBSP}% (розница) от 10{NBSP}000{NBSP}₽"
    assert accrual.explanation_en == f"+500 points: 5{NBSP}% (retail) of 10{NBSP}000{NBSP}₽"
    assert accrual.available_at == now
    assert accrual.expires_at is None
    assert effects.program_hash == program.hash


def test_wholesale_contact_with_company_wins_100000_and_earns_8000(
    example: Callable[[str], Program], now: datetime
) -> None:
    program = example("retail-wholesale")
    deal = Deal(2, 1, "won", 100_000 * RUB, (WHOLESALE,), company_id=7)
    (accrual,) = evaluate_deal(program, deal, {}, now).accruals
    assert accrual.amount == 8_000 * RUB
    assert accrual.explanation_ru.startswith(f"+8{NBSP}000 бонусов: 8{NBSP}% (опт)")


def test_asking_5000_on_10000_is_capped_to_4000_and_held(
    example: Callable[[str], Program], now: datetime
) -> None:
    program = example("retail-wholesale")
    deal = Deal(3, 0, "process", 10_000 * RUB, (RETAIL,), points_to_pay=5_000 * RUB)
    effects = evaluate_deal(program, deal, {1: CustomerHistory(available_points=5_000 * RUB)}, now)
    assert effects.accruals == ()
    redemption = effects.redemption
    assert redemption is not None
    assert (redemption.requested, redemption.amount, redemption.cap) == (500_000, 400_000, 400_000)
    assert redemption.capped_by == "share"
    assert redemption.contact_id == 1


def test_won_with_points_earns_only_on_the_part_paid_in_money(
    example: Callable[[str], Program], now: datetime
) -> None:
    program = example("retail-wholesale")
    deal = Deal(3, 0, "won", 10_000 * RUB, (RETAIL,), points_to_pay=5_000 * RUB)
    effects = evaluate_deal(program, deal, {1: CustomerHistory(available_points=5_000 * RUB)}, now)
    assert effects.redemption is not None
    assert effects.redemption.amount == 4_000 * RUB
    (accrual,) = effects.accruals
    assert accrual.amount == 300 * RUB
    assert accrual.rule_inputs["paid_with_points"] == 4_000 * RUB
    assert accrual.explanation_ru == f"+300 бонусов: 5{NBSP}% (розница) от 6{NBSP}000{NBSP}₽"


def test_lost_deal_earns_nothing_and_redeems_nothing(
    example: Callable[[str], Program], now: datetime
) -> None:
    program = example("retail-wholesale")
    deal = Deal(4, 0, "lost", 10_000 * RUB, (RETAIL,), points_to_pay=1_000 * RUB)
    effects = evaluate_deal(program, deal, {1: CustomerHistory(available_points=5_000 * RUB)}, now)
    assert effects.accruals == ()
    assert effects.redemption is None


def test_same_inputs_give_the_same_effects(
    example: Callable[[str], Program], now: datetime
) -> None:
    program = example("retail-wholesale")
    deal = Deal(1, 0, "won", 10_000 * RUB, (RETAIL,))
    assert evaluate_deal(program, deal, {}, now) == evaluate_deal(program, deal, {}, now)
