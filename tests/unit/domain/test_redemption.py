"""Paying with points: capped by the order share, a level's share, the balance, the pipeline."""

from collections.abc import Callable
from datetime import datetime

from kopilka.domain.deal import Contact, CustomerHistory, Deal
from kopilka.domain.effects import Redemption
from kopilka.domain.engine import evaluate_deal
from kopilka.program import Program

RUB = 100
ANNA = Contact(1, is_primary=True)
BORIS = Contact(2)


def ask(
    program: Program,
    now: datetime,
    amount_rub: int,
    asked_rub: int,
    balance_rub: int,
    won_deals: int = 0,
    pipeline: int = 0,
) -> Redemption:
    deal = Deal(
        1, pipeline, "process", amount_rub * RUB, (BORIS, ANNA), points_to_pay=asked_rub * RUB
    )
    history = {1: CustomerHistory(won_deals=won_deals, available_points=balance_rub * RUB)}
    redemption = evaluate_deal(program, deal, history, now).redemption
    assert redemption is not None
    return redemption


def test_capped_by_share(example: Callable[[str], Program], now: datetime) -> None:
    r = ask(example("retail-wholesale"), now, 10_000, 5_000, 5_000)
    assert (r.contact_id, r.amount, r.cap, r.capped_by) == (1, 400_000, 400_000, "share")
    assert r.explanation_ru.startswith("Списать 4\u00a0000 бонусов из 5\u00a0000 запрошенных")


def test_capped_by_balance(example: Callable[[str], Program], now: datetime) -> None:
    r = ask(example("retail-wholesale"), now, 10_000, 3_000, 1_000)
    assert (r.amount, r.cap, r.capped_by) == (100_000, 100_000, "balance")


def test_not_capped(example: Callable[[str], Program], now: datetime) -> None:
    r = ask(example("retail-wholesale"), now, 10_000, 2_000, 5_000)
    assert (r.amount, r.capped_by) == (200_000, "none")


def test_level_raises_the_payable_share(example: Callable[[str], Program], now: datetime) -> None:
    program = example("car-service")  # 30 %; Gold (3+ deals) 50 %
    assert ask(program, now, 10_000, 6_000, 9_000, won_deals=2).amount == 300_000
    gold = ask(program, now, 10_000, 6_000, 9_000, won_deals=3)
    assert (gold.amount, gold.capped_by) == (500_000, "share")
    assert gold.rule_inputs["share_from_level"] is True


def test_not_applicable_in_the_pipeline(example: Callable[[str], Program], now: datetime) -> None:
    r = ask(example("travel-club"), now, 10_000, 1_000, 5_000, pipeline=0)  # trips
    assert (r.amount, r.capped_by) == (0, "pipeline")
    assert "не применяется" in r.explanation_ru


def test_nothing_asked_means_no_redemption(
    example: Callable[[str], Program], now: datetime
) -> None:
    deal = Deal(1, 0, "process", 10_000 * RUB, (ANNA,))
    assert evaluate_deal(example("retail-wholesale"), deal, {}, now).redemption is None
