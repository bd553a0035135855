"""Emulated portals shaped the way the example programs describe their portals (pipeline,
section and property IDs), for the scenario tests."""

from __future__ import annotations

from b24emu import Portal
from b24emu.catalog import add_product, add_product_property, add_section
from b24emu.seed import WHOLESALE_STAGES, add_category
from kopilka.process.devstack import Stack, emulated_portal

#: examples/travel-club.yaml: pipelines 0 «Путешествия», 2 «Мероприятия», 3 «Кино и спектакли»
TRIPS, EVENTS, SHOWS = 0, 2, 3


def car_service_portal() -> tuple[Portal, dict[str, int]]:
    """examples/car-service.yaml: sections 12 «Ремонт», 13 «Тюнинг», 14 «Расходники»."""
    portal = emulated_portal("empty")
    portal.seq["section"] = 12
    repair = add_section(portal, "Ремонт")
    tuning = add_section(portal, "Тюнинг")
    consumables = add_section(portal, "Расходники")
    assert (repair, tuning, consumables) == (12, 13, 14)
    products = {
        "brakes": add_product(
            portal, {"NAME": "Замена колодок", "PRICE": 10000, "SECTION_ID": repair}
        ),
        "chip": add_product(portal, {"NAME": "Чип-тюнинг", "PRICE": 20000, "SECTION_ID": tuning}),
        "spoiler": add_product(portal, {"NAME": "Спойлер", "PRICE": 5000, "SECTION_ID": tuning}),
        "oil": add_product(portal, {"NAME": "Масло", "PRICE": 2000, "SECTION_ID": consumables}),
    }
    return portal, products


def travel_portal() -> tuple[Portal, dict[str, int]]:
    """examples/travel-club.yaml: the three pipelines and a trip with its properties."""
    portal = emulated_portal("empty")
    portal.deal_categories[0]["name"] = "Путешествия"
    add_category(portal, EVENTS, "Мероприятия", 200, WHOLESALE_STAGES)
    add_category(portal, SHOWS, "Кино и спектакли", 300, WHOLESALE_STAGES)
    hotel = add_product_property(portal, "HOTEL", "Отель")
    headliner = add_product_property(portal, "HEADLINER", "Хедлайнер")
    dates = add_product_property(portal, "DATES", "Даты путешествия", user_type="Date")
    section = add_section(portal, "Путешествия")
    iceland = add_product(
        portal,
        {
            "NAME": "Исландия 2026",
            "CODE": "ISL-2026",
            "PRICE": 300000,
            "SECTION_ID": section,
            f"PROPERTY_{hotel}": "Hotel Rangá",
            f"PROPERTY_{headliner}": "Михаил Кожухов",
            f"PROPERTY_{dates}": "2026-03-12",
        },
    )
    concert = add_product(portal, {"NAME": "Концерт", "PRICE": 5000, "SECTION_ID": section})
    return portal, {"iceland": iceland, "concert": concert}


def new_deal(
    h: Stack,
    contacts: list[int],
    *,
    category: int = 0,
    rows: tuple[tuple[int, int], ...] = (),
) -> int:
    """A deal at its pipeline's first stage, its contacts (the first one primary) and product
    rows (product id, price in roubles), as a manager would make it."""
    stage = "NEW" if category == 0 else f"C{category}:NEW"
    deal = int(
        h.call(
            "crm.deal.add",
            {"fields": {"TITLE": "Заявка", "CATEGORY_ID": category, "STAGE_ID": stage}},
        )
    )
    h.call(
        "crm.deal.contact.items.set",
        {
            "id": deal,
            "items": [
                {"CONTACT_ID": c, "IS_PRIMARY": "Y" if i == 0 else "N"}
                for i, c in enumerate(contacts)
            ],
        },
    )
    if rows:
        h.call(
            "crm.deal.productrows.set",
            {
                "id": deal,
                "rows": [{"PRODUCT_ID": p, "PRICE": price, "QUANTITY": 1} for p, price in rows],
            },
        )
    return deal
