"""The catalogue of texts Kopilka writes into Bitrix24 (issue 15 item 10): every reason the
ledger records in Russian reads, on an English portal, as the English the domain words for the
same thing; a reason a person typed is left as typed."""

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from kopilka.domain.deal import Contact, CustomerHistory, Deal
from kopilka.domain.engine import evaluate_deal
from kopilka.domain.texts import TEXTS, points, reason, say
from kopilka.program import Program

RUB = 100
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_every_text_has_both_languages_and_the_same_slots() -> None:
    for key, entry in TEXTS.items():
        assert set(entry) == {"ru", "en"}, key
        slots = {
            name
            for name in ("points", "title", "percent", "n", "reason", "actor")
            if "{" + name + "}" in entry["ru"]
        }
        assert all("{" + name + "}" in entry["en"] for name in slots), key


@pytest.mark.parametrize(
    ("program_name", "pipeline", "amount", "asked", "balance", "won"),
    [
        ("car-service", 0, 10_000, 0, 0, 0),  # 3 % (Серебряный) of 10 000 ₽
        ("car-service", 0, 10_000, 5_000, 5_000, 2),  # capped by the share
        ("car-service", 0, 10_000, 2_000, 500, 1),  # capped by the balance
        ("car-service", 0, 10_000, 1, 100, 1),  # paid as asked: 1 point
        ("travel-club", 2, 5_000, 0, 0, 0),  # a fixed 1 000 ₽ cashback: the rule's title
        ("travel-club", 2, 5_000, 100, 500, 0),  # paying with points not in this pipeline
    ],
)
def test_the_domains_russian_reads_as_its_english(
    example: Callable[[str], Program],
    program_name: str,
    pipeline: int,
    amount: int,
    asked: int,
    balance: int,
    won: int,
) -> None:
    deal = Deal(
        1,
        pipeline,
        "won",
        amount * RUB,
        (Contact(1, is_primary=True),),
        points_to_pay=asked * RUB,
        closed_at=NOW,
    )
    history = {1: CustomerHistory(won_deals=won, available_points=balance * RUB)}
    effects = evaluate_deal(example(program_name), deal, history, NOW)
    said = [(a.explanation_ru, a.explanation_en) for a in effects.accruals]
    if effects.redemption is not None:
        said.append((effects.redemption.explanation_ru, effects.redemption.explanation_en))
    assert said
    for ru, en in said:
        assert reason("en", ru) == en
        assert reason("ru", ru) == ru


def test_the_ledgers_fixed_reasons_and_typed_ones() -> None:
    assert reason("en", say("ru", "reason.expired", at="01.01.2027 00:00")) == (
        "points expired: due 01.01.2027 00:00"
    )
    assert reason("en", "сделка больше не выиграна") == "deal no longer won"
    assert reason("en", "Бонус за отзыв") == "Бонус за отзыв"  # a program's or a person's words
    assert reason("en", "") == ""
    assert points("en", 1 * RUB) == "1 point"
    assert points("ru", 2 * RUB) == "2 бонуса"
