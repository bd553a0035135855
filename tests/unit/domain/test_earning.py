"""Earning rules: percent, fixed, level percent, eligible sections, points paid with points."""

from collections.abc import Callable
from datetime import datetime, timedelta

from kopilka.domain.deal import Contact, CustomerHistory, Deal, ProductRow
from kopilka.domain.engine import evaluate_deal
from kopilka.program import Program

RUB = 100
ANNA = Contact(1, is_primary=True)


def rows(*items: tuple[int, int | None]) -> tuple[ProductRow, ...]:
    return tuple(
        ProductRow(None, f"p{i}", price * RUB, 1, section)
        for i, (price, section) in enumerate(items)
    )


def test_every_matching_rule_fires_with_its_own_line(
    program_from: Callable[[str], Program], now: datetime
) -> None:
    program = program_from(
        "earn:\n"
        "  - {id: base, title: База, percent: 5}\n"
        "  - {id: opt, title: Опт, pipelines: [wholesale], fixed: 250.50}\n"
        "  - {id: big, title: Крупный, when: {expr: 'deal.opportunity > 1000'}, percent: 1}\n"
    )
    retail = evaluate_deal(program, Deal(1, 0, "won", 1_000 * RUB, (ANNA,)), {}, now)
    assert [(a.rule_id, a.amount) for a in retail.accruals] == [("base", 5_000)]
    wholesale = evaluate_deal(program, Deal(1, 1, "won", 2_000 * RUB, (ANNA,)), {}, now)
    assert [(a.rule_id, a.amount) for a in wholesale.accruals] == [
        ("base", 10_000),
        ("opt", 25_050),
        ("big", 2_000),
    ]
    assert wholesale.accruals[1].explanation_ru == "+250,50 бонуса: Опт"


def test_rounding_and_step_come_from_the_program(
    program_from: Callable[[str], Program], now: datetime
) -> None:
    deal = Deal(1, 0, "won", 999 * RUB + 99, (ANNA,))  # 999,99 ₽
    down = program_from("earn: [{id: a, title: A, percent: 5}]\n")
    cents = program_from(
        "points: {step: 0.01, rounding: half_up}\nearn: [{id: a, title: A, percent: 5}]\n"
    )
    assert evaluate_deal(down, deal, {}, now).accruals[0].amount == 4_900  # 49 points
    assert evaluate_deal(cents, deal, {}, now).accruals[0].amount == 5_000  # 49,9995 -> 50,00


def test_only_rows_of_eligible_sections_count(
    example: Callable[[str], Program], now: datetime
) -> None:
    program = example("car-service")  # repair 12, tuning 13 count; consumables 14 do not
    deal = Deal(
        1, 0, "won", 0, (ANNA,), rows=rows((10_000, 12), (5_000, 13), (3_000, 14), (700, None))
    )
    effects = evaluate_deal(program, deal, {}, now)
    assert effects.eligible_amount == 15_000 * RUB
    (accrual,) = effects.accruals
    assert accrual.amount == 450 * RUB  # first won deal: Silver 3 % of 15 000
    counted = [r["counted"] for r in accrual.rule_inputs["eligible_rows"]]
    assert counted == [True, True, False, False]


def test_exclude_list_and_unknown_section_count(
    program_from: Callable[[str], Program], now: datetime
) -> None:
    program = program_from(
        "catalog_sections: {cons: {id: 14, title: Расходники}}\n"
        "eligible_sections: {exclude: [cons], unknown_section: count}\n"
        "earn: [{id: a, title: A, percent: 10}]\n"
    )
    deal = Deal(1, 0, "won", 0, (ANNA,), rows=rows((1_000, 12), (3_000, 14), (500, None)))
    assert evaluate_deal(program, deal, {}, now).accruals[0].amount == 150 * RUB


def test_points_part_is_proportional_when_some_rows_do_not_count(
    example: Callable[[str], Program], now: datetime
) -> None:
    program = example("car-service")
    deal = Deal(
        1, 0, "won", 0, (ANNA,), rows=rows((6_000, 12), (4_000, 14)), points_to_pay=3_000 * RUB
    )  # 30 % cap of 10 000 = 3 000
    history = {1: CustomerHistory(available_points=10_000 * RUB)}
    (accrual,) = evaluate_deal(program, deal, history, now).accruals
    assert accrual.rule_inputs["base"] == 4_200 * RUB  # 6 000 - 3 000 * 6/10
    assert accrual.amount == 126 * RUB  # 3 % of 4 200


def test_earn_on_paid_with_points_when_the_program_allows(
    program_from: Callable[[str], Program], now: datetime
) -> None:
    program = program_from(
        "redemption: {max_share: 40, earn_on_paid_with_points: true}\n"
        "earn: [{id: a, title: A, percent: 5}]\n"
    )
    deal = Deal(1, 0, "won", 10_000 * RUB, (ANNA,), points_to_pay=4_000 * RUB)
    history = {1: CustomerHistory(available_points=4_000 * RUB)}
    assert evaluate_deal(program, deal, history, now).accruals[0].amount == 500 * RUB


def test_pending_days_and_expiry_overrides(
    program_from: Callable[[str], Program], now: datetime
) -> None:
    program = program_from(
        "pending_days: 14\nexpiry: {after_days: 365}\n"
        "earn:\n"
        "  - {id: a, title: A, percent: 5}\n"
        "  - {id: b, title: B, fixed: 100, pending_days: 0, expiry: {after: never}}\n"
    )
    closed = now - timedelta(days=1)
    deal = Deal(1, 0, "won", 1_000 * RUB, (ANNA,), closed_at=closed)
    first, second = evaluate_deal(program, deal, {}, now).accruals
    assert (first.available_at, first.expires_at) == (
        closed + timedelta(days=14),
        closed + timedelta(days=365),
    )
    assert (second.available_at, second.expires_at) == (closed, None)


def test_fixed_per_deal_is_split_between_contacts(
    program_from: Callable[[str], Program], now: datetime
) -> None:
    program = program_from("earn: [{id: f, title: F, fixed: 1000, fixed_per: deal}]\n")
    contacts = (Contact(1), Contact(2), Contact(3, is_primary=True))
    accruals = evaluate_deal(program, Deal(1, 0, "won", 0, contacts), {}, now).accruals
    assert {a.contact_id: a.amount for a in accruals} == {3: 33_334, 1: 33_333, 2: 33_333}


def test_in_progress_deal_earns_nothing(example: Callable[[str], Program], now: datetime) -> None:
    program = example("retail-wholesale")
    assert (
        evaluate_deal(program, Deal(1, 0, "process", 10_000 * RUB, (ANNA,)), {}, now).accruals == ()
    )
