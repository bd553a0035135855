"""Seed data: what every portal has (``seed_base``) and the ``demo`` portal (``seed_demo``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from b24emu.portal import Portal

_STAGE_EXTRA = {None: "process", "S": "success", "F": "failure"}


def add_status(
    portal: Portal,
    entity_id: str,
    status_id: str,
    name: str,
    sort: int,
    semantics: str | None = None,
    color: str | None = None,
    system: bool = True,
    category_id: int | None = None,
    extra: str | None = None,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "ID": str(portal.next_id("status")),
        "ENTITY_ID": entity_id,
        "STATUS_ID": status_id,
        "NAME": name,
        "NAME_INIT": name if system else "",
        "SORT": str(sort),
        "SYSTEM": "Y" if system else "N",
    }
    if entity_id.startswith("DEAL_STAGE"):
        row.update(
            {
                "CATEGORY_ID": None if category_id is None else str(category_id),
                "COLOR": color,
                "SEMANTICS": semantics,
                "EXTRA": {"SEMANTICS": extra or _STAGE_EXTRA[semantics], "COLOR": color},
            }
        )
    portal.statuses.append(row)
    return row


def add_category(
    portal: Portal,
    category_id: int,
    name: str,
    sort: int,
    stages: list[tuple[str, str, str | None, str]],
) -> None:
    portal.deal_categories[category_id] = {
        "id": category_id,
        "name": name,
        "sort": sort,
        "entityTypeId": 2,
        "isDefault": "Y" if category_id == 0 else "N",
        "originId": "",
        "originatorId": "",
    }
    entity = "DEAL_STAGE" if category_id == 0 else f"DEAL_STAGE_{category_id}"
    prefix = "" if category_id == 0 else f"C{category_id}:"
    for index, (code, title, semantics, color) in enumerate(stages):
        add_status(
            portal,
            entity,
            prefix + code,
            title,
            (index + 1) * 10,
            semantics,
            color,
            system=code in ("NEW", "WON", "LOSE"),
            category_id=None if category_id == 0 else category_id,
            extra="apology" if code == "APOLOGY" else None,
        )


STANDARD_STAGES: list[tuple[str, str, str | None, str]] = [
    ("NEW", "Новая", None, "#39A8EF"),
    ("PREPARATION", "Подготовка документов", None, "#2FC6F6"),
    ("PREPAYMENT_INVOICE", "Счёт на предоплату", None, "#55D0E0"),
    ("EXECUTING", "В работе", None, "#47E4C2"),
    ("FINAL_INVOICE", "Финальный счёт", None, "#FFA900"),
    ("WON", "Сделка успешна", "S", "#7BD500"),
    ("LOSE", "Сделка провалена", "F", "#FF5752"),
    ("APOLOGY", "Анализ причины провала", "F", "#FF5752"),
]


def seed_base(portal: Portal) -> None:
    """What an empty portal already has: users, dictionaries, the general pipeline."""
    portal.users[1] = {
        "ID": "1",
        "ACTIVE": True,
        "NAME": "Иван",
        "LAST_NAME": "Петров",
        "EMAIL": "admin@emu.bitrix24.test",
        "ADMIN": True,
        "UF_DEPARTMENT": [1],
    }
    portal.users[2] = {
        "ID": "2",
        "ACTIVE": True,
        "NAME": "Мария",
        "LAST_NAME": "Соколова",
        "EMAIL": "manager@emu.bitrix24.test",
        "ADMIN": False,
        "UF_DEPARTMENT": [1],
    }
    add_category(portal, 0, "Общая", 100, STANDARD_STAGES)
    for sort, (code, name) in enumerate(
        [
            ("CLIENT", "Клиенты"),
            ("SUPPLIER", "Поставщики"),
            ("PARTNER", "Партнеры"),
            ("OTHER", "Другое"),
        ],
        start=1,
    ):
        add_status(portal, "CONTACT_TYPE", code, name, sort * 10)
    for sort, (code, name) in enumerate(
        [
            ("CUSTOMER", "Клиент"),
            ("SUPPLIER", "Поставщик"),
            ("COMPETITOR", "Конкурент"),
            ("PARTNER", "Партнер"),
            ("OTHER", "Другое"),
        ],
        start=1,
    ):
        add_status(portal, "COMPANY_TYPE", code, name, sort * 10)
    for sort, (code, name) in enumerate(
        [
            ("SALE", "Продажа"),
            ("COMPLEX", "Комплексная продажа"),
            ("GOODS", "Продажа товара"),
            ("SERVICES", "Продажа услуги"),
            ("SERVICE", "Сервисное обслуживание"),
        ],
        start=1,
    ):
        add_status(portal, "DEAL_TYPE", code, name, sort * 10)
    for sort, (code, name) in enumerate(
        [
            ("CALL", "Звонок"),
            ("EMAIL", "Электронная почта"),
            ("WEB", "Веб-сайт"),
            ("ADVERTISING", "Реклама"),
            ("PARTNER", "Существующий клиент"),
            ("RECOMMENDATION", "По рекомендации"),
            ("WEBFORM", "CRM-форма"),
            ("STORE", "Интернет-магазин"),
            ("OTHER", "Другое"),
        ],
        start=1,
    ):
        add_status(portal, "SOURCE", code, name, sort * 10)


def seed_empty(portal: Portal) -> None:
    """Nothing beyond :func:`seed_base`."""


SEEDS: dict[str, Callable[[Portal], None]] = {"empty": seed_empty}
