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


def add_user(portal: Portal, name: str, last_name: str = "", admin: bool = False) -> int:
    user_id = max(portal.users, default=0) + 1
    portal.users[user_id] = {
        "ID": str(user_id),
        "ACTIVE": True,
        "NAME": name,
        "LAST_NAME": last_name,
        "EMAIL": f"user{user_id}@{portal.domain}",
        "ADMIN": admin,
        "UF_DEPARTMENT": [1],
    }
    return user_id


def seed_base(portal: Portal) -> None:
    """What an empty portal already has: users, dictionaries, the general pipeline."""
    portal.seq["userfield"] = 101
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


WHOLESALE_STAGES: list[tuple[str, str, str | None, str]] = [
    ("NEW", "Новая", None, "#39A8EF"),
    ("PREPARATION", "Подготовка", None, "#2FC6F6"),
    ("EXECUTING", "В работе", None, "#47E4C2"),
    ("WON", "Сделка успешна", "S", "#7BD500"),
    ("LOSE", "Сделка провалена", "F", "#FF5752"),
]

CATALOG: list[tuple[str, list[tuple[str, int]]]] = [
    (
        "Ремонт",
        [("Замена масла", 2500), ("Диагностика ходовой", 1500), ("Замена тормозных колодок", 3000)],
    ),
    ("Тюнинг", [("Чип-тюнинг Stage 1", 25000), ("Спойлер", 12000)]),
    (
        "Расходники",
        [("Масло моторное 5W-30, 4 л", 3200), ("Фильтр масляный", 650), ("Антифриз, 5 л", 1400)],
    ),
    ("Товары", [("Видеорегистратор", 7990), ("Коврики в салон", 2490)]),
]


def seed_demo(portal: Portal) -> None:
    """Retail and wholesale: two pipelines, contact classes, a small catalog (see docs)."""
    from b24emu.catalog import add_product, add_product_property, add_section
    from b24emu.userfields import create

    portal.deal_categories[0]["name"] = "Розница"
    add_category(portal, 1, "Опт", 200, WHOLESALE_STAGES)
    for row in portal.statuses:
        if row["ENTITY_ID"] == "CONTACT_TYPE" and row["STATUS_ID"] == "CLIENT":
            row["NAME"] = "Розница"
    add_status(portal, "CONTACT_TYPE", "1", "Оптовики", 15, system=False)
    portal.seq["uf_enum"] = 44
    create(
        portal,
        "CRM_CONTACT",
        {
            "FIELD_NAME": "CONTACT_CLASS",
            "USER_TYPE_ID": "enumeration",
            "XML_ID": "CONTACT_CLASS",
            "EDIT_FORM_LABEL": {"ru": "Класс клиента", "en": "Customer class"},
            "LIST_COLUMN_LABEL": {"ru": "Класс клиента", "en": "Customer class"},
            "LIST_FILTER_LABEL": {"ru": "Класс клиента", "en": "Customer class"},
            "LIST": [
                {"VALUE": "Розница", "XML_ID": "RETAIL", "SORT": 10, "DEF": "Y"},
                {"VALUE": "Опт", "XML_ID": "WHOLESALE", "SORT": 20},
            ],
        },
    )
    calls: list[tuple[str, dict[str, Any]]] = [
        (
            "crm.company.add",
            {
                "TITLE": "ООО Ромашка",
                "COMPANY_TYPE": "CUSTOMER",
                "PHONE": [{"VALUE": "+74951234567", "VALUE_TYPE": "WORK"}],
                "EMAIL": [{"VALUE": "zakaz@romashka.example", "VALUE_TYPE": "WORK"}],
            },
        ),
        ("crm.company.add", {"TITLE": "ИП Лютиков", "COMPANY_TYPE": "CUSTOMER"}),
        (
            "crm.contact.add",
            {
                "NAME": "Анна",
                "LAST_NAME": "Смирнова",
                "TYPE_ID": "CLIENT",
                "BIRTHDATE": "1990-05-17",
                "UF_CRM_CONTACT_CLASS": 44,
                "PHONE": [{"VALUE": "+79161234567", "VALUE_TYPE": "MOBILE"}],
                "EMAIL": [{"VALUE": "anna.smirnova@example.ru", "VALUE_TYPE": "HOME"}],
            },
        ),
        (
            "crm.contact.add",
            {
                "NAME": "Олег",
                "LAST_NAME": "Кузнецов",
                "TYPE_ID": "1",
                "COMPANY_ID": 1,
                "POST": "Закупщик",
                "UF_CRM_CONTACT_CLASS": 45,
                "PHONE": [{"VALUE": "+79035550101", "VALUE_TYPE": "WORK"}],
                "EMAIL": [{"VALUE": "oleg@romashka.example", "VALUE_TYPE": "WORK"}],
            },
        ),
        (
            "crm.contact.add",
            {
                "NAME": "Пётр",
                "LAST_NAME": "Иванов",
                "TYPE_ID": "CLIENT",
                "UF_CRM_CONTACT_CLASS": 44,
                "PHONE": [{"VALUE": "+79267654321", "VALUE_TYPE": "MOBILE"}],
            },
        ),
        (
            "crm.contact.add",
            {
                "NAME": "Елена",
                "LAST_NAME": "Васильева",
                "TYPE_ID": "CLIENT",
                "COMPANY_ID": 2,
                "EMAIL": [{"VALUE": "elena@example.ru", "VALUE_TYPE": "WORK"}],
            },
        ),
    ]
    for method_name, fields in calls:
        answer = portal.call(method_name, {"fields": fields})
        if "error" in answer:
            raise RuntimeError(f"demo seed: {method_name}: {answer}")
    for section_name, products in CATALOG:
        section_id = add_section(portal, section_name)
        for name, price in products:
            add_product(portal, {"NAME": name, "PRICE": price, "SECTION_ID": section_id})
    # A travel product with catalog properties (ids after the ten above: section 5, product 11,
    # properties 1-3), for the travel-club example's field transfer.
    hotel = add_product_property(portal, "HOTEL", "Отель")
    headliner = add_product_property(portal, "HEADLINER", "Хедлайнер")
    dates = add_product_property(portal, "DATES", "Даты путешествия", user_type="Date")
    add_product(
        portal,
        {
            "NAME": "Исландия 2026",
            "CODE": "ISL-2026",
            "PRICE": 389000,
            "SECTION_ID": add_section(portal, "Путешествия"),
            f"PROPERTY_{hotel}": "Hotel Rangá",
            f"PROPERTY_{headliner}": "Михаил Кожухов",
            f"PROPERTY_{dates}": "2026-03-12",
        },
    )


SEEDS: dict[str, Callable[[Portal], None]] = {"empty": seed_empty, "demo": seed_demo}
