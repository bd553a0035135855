"""The cabinet's words without a database: the unit's plural forms (CLDR via Babel), a ledger
line worded from its structure (never the managers' reason), the shop block's checks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from kopilka.cabinet.entries import word
from kopilka.domain.words import amount, purchases
from kopilka.ledger.queries import HistoryLine
from kopilka.program.errors import ProgramFileError
from kopilka.program.loader import load_program, parse_program

EXAMPLE = Path(__file__).parents[2] / "examples" / "car-service.yaml"


@pytest.mark.parametrize(
    ("minor", "unit", "lang", "shown"),
    [
        (100, "баллы", "ru", "1\u00a0балл"),
        (300, "баллы", "ru", "3\u00a0балла"),
        (500, "баллы", "ru", "5\u00a0баллов"),
        (1100, "баллы", "ru", "11\u00a0баллов"),
        (2100, "бонусы", "ru", "21\u00a0бонус"),
        (2200, "бонусы", "ru", "22\u00a0бонуса"),
        (250, "бонусы", "ru", "2,50\u00a0бонуса"),
        (-500, "баллы", "ru", "-5\u00a0баллов"),
        (100, "бонусы", "en", "1\u00a0point"),
        (2100, "баллы", "en", "21\u00a0points"),
    ],
)
def test_the_unit_agrees_with_the_number(minor: int, unit: str, lang: str, shown: str) -> None:
    assert amount(minor, unit, lang) == shown


def line(kind: str, amount: int, reference: str = "", rule_id: str | None = None) -> HistoryLine:
    at = datetime(2026, 3, 12, 9, tzinfo=UTC)
    reason = "сделка больше не выиграна — сделка №7001"  # the managers' words, never shown
    return HistoryLine(1, kind, amount, 0, reason, "sync", "sync", rule_id, at, at, None, reference)


def test_a_line_is_worded_from_the_entry_not_from_the_managers_reason() -> None:
    program = load_program(EXAMPLE)
    dates = {"deal:7001": "12.03.2026"}
    said = {
        "earned": word(line("accrual", 37500, "deal:7001"), "ru", program, dates),
        "cancelled": word(line("reversal", -37500, "deal:7001"), "ru", program, dates),
        "unknown order": word(line("reversal", -5000, "deal:7003"), "ru", program, dates),
        "paid": word(line("hold", -10000, "deal:7001"), "ru", program, dates),
        "expired": word(line("expiry", -100), "ru", program, dates),
        "english": word(line("accrual", 37500, "deal:7001"), "en", program, dates),
    }
    assert said == {
        "earned": "Начислено за заказ от 12.03.2026",
        "cancelled": "Начисление отменено: заказ от 12.03.2026 отменён",
        "unknown order": "Начисление отменено: заказ отменён",
        "paid": "Зарезервировано для оплаты заказа от 12.03.2026",
        "expired": "Сгорели: истёк срок действия",
        "english": "Earned on the order of 12.03.2026",
    }


def _with(**top: object) -> str:
    data = yaml.safe_load(EXAMPLE.read_text("utf-8"))
    data.update(top)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def test_the_shop_block() -> None:
    program = parse_program(_with(shop={"name": "Колесо"}), "p.yaml")
    assert program.shop.name == "Колесо"
    assert load_program(EXAMPLE).shop.name is None  # the title is shown instead
    # a logo goes into the page's Content-Security-Policy: nothing that could end a directive
    for logo in ("http://plain.example/logo.png", "https://x.example/a;script-src *"):
        with pytest.raises(ProgramFileError):
            parse_program(_with(shop={"logo": logo}), "p.yaml")
    assert parse_program(_with(shop={"logo": "https://x.example/l.png"}), "p.yaml").shop.logo


def test_purchases_to_the_next_level() -> None:
    shown = [purchases(n, "ru") for n in (1, 2, 5, 21)] + [purchases(1, "en"), purchases(2, "en")]
    assert shown == [
        "1\u00a0покупка",
        "2\u00a0покупки",
        "5\u00a0покупок",
        "21\u00a0покупка",
        "1\u00a0purchase",
        "2\u00a0purchases",
    ]
