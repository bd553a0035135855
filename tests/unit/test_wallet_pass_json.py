"""The program's ``wallet:`` look reaches ``pass.json``: Code128 when asked, its colours and
words; a colour that is not #rrggbb is refused when the program is read."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kopilka.program.wallet import Wallet
from kopilka.wallet.apple.pkpass import Identity, pass_json
from kopilka.wallet.common import CardView


def _view(**kw: object) -> CardView:
    base: dict[str, object] = {
        "portal_id": 1,
        "customer_id": 2,
        "locale": "ru",
        "shop": "Кофейня «Зерно»",
        "holder": "Анна",
        "card_number": "+79161234567",
        "display_number": "+7 916 123-45-67",
        "balance": 12_500,
        "balance_text": "125",
        "points_label": "Бонусы",
        "level": "Серебро",
        "expiring": 5_000,
        "expiring_text": "50 · сгорят до 01.04.2026",
        "expiring_at": None,
        "barcode": "code128",
        "background": "#102030",
        "foreground": "#ffffff",
        "label": "#c8c8c8",
        "terms": "1 бонус = 1 ₽",
        "description": "Бонусная карта Кофейня «Зерно»",
        "change_message": "Баланс: %@",
    }
    base.update(kw)
    return CardView(**base)  # type: ignore[arg-type]


def test_the_look_and_words_reach_pass_json() -> None:
    body = pass_json(_view(), Identity("pass.ru.x", "ABCDE12345", None), "S" * 24, "t" * 32)
    assert body["barcodes"][0]["format"] == "PKBarcodeFormatCode128"
    assert body["backgroundColor"] == "rgb(16, 32, 48)"
    assert body["organizationName"] == "Кофейня «Зерно»"
    card = body["storeCard"]
    assert card["primaryFields"][0]["label"] == "Бонусы"
    assert [f["value"] for f in card["secondaryFields"]] == [
        "Серебро",
        "50 · сгорят до 01.04.2026",
    ]
    assert card["backFields"][0]["value"] == "1 бонус = 1 ₽"
    # Without a web service the pass carries no token and is never updated.
    assert "authenticationToken" not in body
    assert "webServiceURL" not in body


def test_a_card_without_a_number_has_no_barcode() -> None:
    body = pass_json(_view(card_number=None), Identity("pass.ru.x", "T", "https://x"), "S", "t")
    assert "barcodes" not in body
    assert body["webServiceURL"] == "https://x"


def test_colours_must_be_hex() -> None:
    with pytest.raises(ValidationError):
        Wallet(background="red")
