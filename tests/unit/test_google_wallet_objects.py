"""The Google loyalty class and object bodies (kopilka.wallet.google.objects): pure."""

from __future__ import annotations

from dataclasses import replace

from kopilka.wallet.common import CardView
from kopilka.wallet.google.objects import (
    class_body,
    class_hash,
    new_id,
    object_body,
    object_patch,
)

FACE = CardView(
    portal_id=1,
    customer_id=1,
    locale="ru",
    shop="Автосервис «Колесо»",
    holder="Анна Смирнова",
    card_number="+79161234567",
    display_number="+7 916 123-45-67",
    balance=125_050,
    balance_text="1\u00a0250,50",
    points_label="Баллы",
    level="Золото",
    expiring=30_000,
    expiring_text="300 · Сгорят до 12.03.2027",
    expiring_at=None,
    barcode="code128",
    background="#113355",
    foreground="#ffffff",
    label="#c8c8c8",
    terms=None,
    description="Бонусная карта Автосервис «Колесо»",
    change_message="Баланс: %@",
)


def test_the_object_carries_the_card_balance_level_and_expiring_points() -> None:
    body = object_body("338.card-1", "338.kopilka-1", FACE)
    assert body["state"] == "ACTIVE"
    assert body["barcode"] == {
        "type": "CODE_128",
        "value": "+79161234567",
        "alternateText": "+7 916 123-45-67",
    }
    assert body["loyaltyPoints"] == {"label": "Баллы", "balance": {"string": "1\u00a0250,50"}}
    assert body["textModulesData"] == [
        {"id": "level", "header": "Уровень", "body": "Золото"},
        {"id": "expiring", "header": "Скоро сгорят", "body": "300 · Сгорят до 12.03.2027"},
    ]
    assert "notifyPreference" not in object_patch(FACE, notify=False)
    assert object_patch(FACE, notify=True)["notifyPreference"] == "NOTIFY_ON_UPDATE"


def test_a_customer_without_an_active_card_gets_an_inactive_object_without_barcode() -> None:
    body = object_patch(replace(FACE, card_number=None, display_number=None), notify=False)
    assert body["state"] == "INACTIVE"
    assert "barcode" not in body
    assert "accountId" not in body


def test_the_class_speaks_the_programs_language_and_its_hash_follows_the_look() -> None:
    english = class_body("338.k", replace(FACE, locale="en"), "https://shop.example/logo.png")
    assert (english["accountIdLabel"], english["accountNameLabel"]) == ("Card", "Holder")
    assert english["programLogo"]["contentDescription"]["defaultValue"]["language"] == "en-US"
    russian = class_body("338.k", FACE, "https://shop.example/logo.png")
    assert russian["accountIdLabel"] == "Карта"
    assert class_hash(russian) != class_hash(english)
    assert class_hash(russian) == class_hash(
        class_body("338.k", FACE, "https://shop.example/logo.png")
    )


def test_ids_belong_to_the_issuer_and_do_not_repeat() -> None:
    ids = {new_id("3388000000012345678", "card") for _ in range(100)}
    assert len(ids) == 100
    assert all(i.startswith("3388000000012345678.card-") for i in ids)
