"""Catalog product properties: crm.product.property.* and PROPERTY_{id} values on crm.product.*."""

from __future__ import annotations

from typing import Any

import httpx

from b24emu import EmuServer, Portal
from b24emu.catalog import add_product, add_product_property


def call(http: httpx.Client, hook: str, method: str, params: dict[str, Any]) -> Any:
    return http.post(hook + method, json=params).json()


def test_property_add_get_and_fields(portal: Portal, hook: str, http: httpx.Client) -> None:
    added = call(
        http,
        hook,
        "crm.product.property.add",
        {"fields": {"NAME": "Отель", "CODE": "HOTEL", "PROPERTY_TYPE": "S", "SORT": 100}},
    )
    assert isinstance(added["result"], int)
    got = call(http, hook, "crm.product.property.get", {"id": added["result"]})["result"]
    assert got == {
        "ID": str(added["result"]),
        "IBLOCK_ID": "25",
        "NAME": "Отель",
        "ACTIVE": "Y",
        "SORT": "100",
        "CODE": "HOTEL",
        "DEFAULT_VALUE": "",
        "PROPERTY_TYPE": "S",
        "ROW_COUNT": "1",
        "COL_COUNT": "30",
        "MULTIPLE": "N",
        "XML_ID": "",
        "FILE_TYPE": "",
        "LINK_IBLOCK_ID": "0",
        "IS_REQUIRED": "N",
        "USER_TYPE": None,
        "USER_TYPE_SETTINGS": None,
        "VALUES": None,
    }
    listed = call(
        http,
        hook,
        "crm.product.property.add",
        {
            "fields": {
                "NAME": "Класс",
                "PROPERTY_TYPE": "L",
                "MULTIPLE": "Y",
                "VALUES": {
                    "n0": {"VALUE": "Эконом", "SORT": 200},
                    "n1": {"VALUE": "Люкс", "SORT": 100, "DEF": "Y"},
                    "n2": {"VALUE": ""},  # skipped
                },
            }
        },
    )["result"]
    values = call(http, hook, "crm.product.property.get", {"id": listed})["result"]["VALUES"]
    assert [(v["VALUE"], v["SORT"], v["DEF"]) for v in values.values()] == [
        ("Люкс", "100", "Y"),
        ("Эконом", "200", "N"),
    ]
    assert all(k == v["ID"] for k, v in values.items())  # keyed by enum id
    fields = call(http, hook, "crm.product.property.fields", {})["result"]
    assert fields["NAME"]["isRequired"] is True
    assert fields["PROPERTY_TYPE"]["isImmutable"] is True
    assert {"ID", "CODE", "USER_TYPE_SETTINGS", "VALUES"} <= set(fields)
    described = call(http, hook, "crm.product.fields", {})["result"]
    assert described[f"PROPERTY_{listed}"]["type"] == "product_property"
    assert described[f"PROPERTY_{listed}"]["isMultiple"] is True
    assert described[f"PROPERTY_{listed}"]["propertyType"] == "L"
    assert next(iter(described[f"PROPERTY_{listed}"]["values"].values()))["VALUE"] == "Люкс"


def test_property_errors(portal: Portal, hook: str, http: httpx.Client) -> None:
    missing = http.post(hook + "crm.product.property.get", json={"id": 999})
    assert missing.status_code == 400
    assert missing.json() == {"error": "", "error_description": "Not found"}
    no_id = call(http, hook, "crm.product.property.get", {})
    assert no_id["error_description"] == "ID is not defined or invalid."
    no_fields = call(http, hook, "crm.product.property.add", {"FIELDS": "x"})
    assert no_fields["error_description"] == "Parameter 'fields' must be array."
    no_name = call(http, hook, "crm.product.property.add", {"fields": {"CODE": "X"}})
    assert no_name["error"] == ""


def test_product_values_add_get_update(portal: Portal, hook: str, http: httpx.Client) -> None:
    hotel = add_product_property(portal, "HOTEL", "Отель")
    dates = add_product_property(portal, "DATES", "Даты", user_type="Date")
    tags = add_product_property(portal, "TAGS", "Теги", multiple=True)
    stars = add_product_property(portal, "STARS", "Звёзды", property_type="N")
    product = call(
        http,
        hook,
        "crm.product.add",
        {
            "fields": {
                "NAME": "Исландия",
                f"PROPERTY_{hotel}": "Hotel Rangá",  # plain value
                f"PROPERTY_{dates}": {"value": "2026-03-12"},
                f"PROPERTY_{tags}": ["север", {"value": "море"}, {"value": ""}],
                "PROPERTY_999": "unknown ids are ignored",
            }
        },
    )["result"]
    got = call(http, hook, "crm.product.get", {"id": product})["result"]
    hotel_value = got[f"PROPERTY_{hotel}"]
    assert hotel_value["value"] == "Hotel Rangá"
    assert isinstance(hotel_value["valueId"], str)
    assert got[f"PROPERTY_{dates}"]["value"] == "2026-03-12T03:00:00+03:00"
    assert [v["value"] for v in got[f"PROPERTY_{tags}"]] == ["север", "море"]
    assert got[f"PROPERTY_{stars}"] is None  # every property, null when unset
    assert "PROPERTY_999" not in got
    first_tag = got[f"PROPERTY_{tags}"][0]["valueId"]

    ok = call(
        http,
        hook,
        "crm.product.update",
        {
            "id": product,
            "fields": {
                f"PROPERTY_{tags}": [{"valueId": first_tag, "value": "Север"}, "горы"],
                f"PROPERTY_{stars}": {"valueId": 0, "value": 4},
                f"PROPERTY_{dates}": "не дата",  # unparseable -> no value
            },
        },
    )
    assert ok["result"] is True
    again = call(http, hook, "crm.product.get", {"id": product})["result"]
    assert again[f"PROPERTY_{hotel}"] == hotel_value  # not mentioned: kept
    assert again[f"PROPERTY_{tags}"][0] == {"valueId": first_tag, "value": "Север"}
    assert again[f"PROPERTY_{tags}"][1]["value"] == "горы"
    assert again[f"PROPERTY_{stars}"]["value"] == "4"
    assert again[f"PROPERTY_{dates}"] is None
    changed = call(
        http,
        hook,
        "crm.product.update",
        {"id": product, "fields": {f"PROPERTY_{hotel}": "Hotel Borg"}},
    )
    assert changed["result"] is True
    latest = call(http, hook, "crm.product.get", {"id": product})["result"]
    assert latest[f"PROPERTY_{hotel}"]["value"] == "Hotel Borg"
    assert latest[f"PROPERTY_{hotel}"]["valueId"] != hotel_value["valueId"]  # new value id


def test_product_list_select_and_id_filter(portal: Portal, hook: str, http: httpx.Client) -> None:
    hotel = add_product_property(portal, "HOTEL", "Отель")
    tags = add_product_property(portal, "TAGS", "Теги", multiple=True)
    ids = [
        add_product(portal, {"NAME": f"Тур {n}", f"PROPERTY_{hotel}": f"Отель {n}"})
        for n in range(1, 5)
    ]
    add_product(portal, {"NAME": "Тур 5", f"PROPERTY_{tags}": ["a", "b"]})

    plain = call(http, hook, "crm.product.list", {"filter": {"ID": ids[:3]}})
    assert [r["ID"] for r in plain["result"]] == [str(i) for i in ids[:3]]
    assert plain["total"] == 3
    assert not any(k.startswith("PROPERTY_") for r in plain["result"] for k in r)

    one = call(
        http,
        hook,
        "crm.product.list",
        {"filter": {"ID": ids[:3]}, "select": ["ID", "NAME", f"PROPERTY_{hotel}"]},
    )["result"]
    assert one[1] == {
        "ID": str(ids[1]),
        "NAME": "Тур 2",
        f"PROPERTY_{hotel}": {
            "valueId": one[1][f"PROPERTY_{hotel}"]["valueId"],
            "value": "Отель 2",
        },
    }

    star = call(
        http, hook, "crm.product.list", {"filter": {"ID": ids[3:]}, "select": ["PROPERTY_*"]}
    )["result"]
    assert set(star[0]) == {"ID", f"PROPERTY_{hotel}", f"PROPERTY_{tags}"}
    assert star[0][f"PROPERTY_{tags}"] is None
    everything = call(
        http, hook, "crm.product.list", {"filter": {"NAME": "Тур 5"}, "select": ["*"]}
    )["result"]
    assert [v["value"] for v in everything[0][f"PROPERTY_{tags}"]] == ["a", "b"]
    assert everything[0]["NAME"] == "Тур 5"

    by_value = call(
        http,
        hook,
        "crm.product.list",
        {"filter": {f"PROPERTY_{hotel}": "Отель 3"}, "select": ["ID"]},
    )["result"]
    assert by_value == [{"ID": str(ids[2])}]


def test_property_list_filter_order_and_no_paging(
    portal: Portal, hook: str, http: httpx.Client
) -> None:
    for n in range(60):
        add_product_property(portal, f"P{n:02d}", f"Свойство {n:02d}", multiple=n % 2 == 1)
    add_product_property(portal, "WHEN", "Дата", user_type="Date")
    answer = call(http, hook, "crm.product.property.list", {})
    assert len(answer["result"]) == 61  # the proxy returns everything at once
    assert answer["total"] == 61
    assert "next" not in answer
    later = call(http, hook, "crm.product.property.list", {"start": 50})
    assert len(later["result"]) == 61  # `start` is not used either
    dates = call(
        http,
        hook,
        "crm.product.property.list",
        {"filter": {"PROPERTY_TYPE": "S", "USER_TYPE": "Date"}},
    )["result"]
    assert [p["CODE"] for p in dates] == ["WHEN"]
    multiple = call(
        http, hook, "crm.product.property.list", {"filter": {"MULTIPLE": "Y", "NAME": "%0_"}}
    )["result"]
    assert [p["CODE"] for p in multiple] == ["P01", "P03", "P05", "P07", "P09"]
    ordered = call(
        http,
        hook,
        "crm.product.property.list",
        {"order": {"NAME": "DESC"}, "filter": {"CODE": "P5%"}},
    )["result"]
    assert [p["CODE"] for p in ordered][:3] == ["P59", "P58", "P57"]


def test_demo_seed_travel_product(http: httpx.Client) -> None:
    portal = Portal.seeded("demo")
    with EmuServer(portal):
        hook = portal.add_webhook(scopes=("crm",))
        assert sorted(portal.products) == list(range(1, 12))  # ten catalog items, then the trip
        props = call(http, hook, "crm.product.property.list", {})["result"]
        by_code = {p["CODE"]: p for p in props}
        assert {c: p["NAME"] for c, p in by_code.items()} == {
            "HOTEL": "Отель",
            "HEADLINER": "Хедлайнер",
            "DATES": "Даты путешествия",
        }
        assert by_code["DATES"]["USER_TYPE"] == "Date"
        trip = call(
            http,
            hook,
            "crm.product.list",
            {"filter": {"CODE": "ISL-2026"}, "select": ["ID", "NAME", "PROPERTY_*"]},
        )["result"]
        assert len(trip) == 1
        assert trip[0]["NAME"] == "Исландия 2026"
        assert trip[0]["PROPERTY_" + by_code["HEADLINER"]["ID"]]["value"] == "Михаил Кожухов"
        assert trip[0]["PROPERTY_" + by_code["DATES"]["ID"]]["value"].startswith("2026-03-12T")


def test_product_sections_with_parents(portal: Portal, hook: str, http: httpx.Client) -> None:
    """crm.productsection.add/update/list: SECTION_ID is the parent; a section moves with its
    subtree, never under itself or its own subsection."""
    top = call(http, hook, "crm.productsection.add", {"fields": {"NAME": "Ремонт"}})["result"]
    mid = call(
        http, hook, "crm.productsection.add", {"fields": {"NAME": "Тормоза", "SECTION_ID": top}}
    )["result"]
    low = call(
        http, hook, "crm.productsection.add", {"fields": {"NAME": "Диски", "SECTION_ID": mid}}
    )["result"]
    other = call(http, hook, "crm.productsection.add", {"fields": {"NAME": "Расходники"}})["result"]

    def parents() -> dict[int, int | None]:
        rows = call(http, hook, "crm.productsection.list", {"select": ["ID", "SECTION_ID"]})
        return {
            int(r["ID"]): (int(r["SECTION_ID"]) if r["SECTION_ID"] else None)
            for r in rows["result"]
        }

    assert {k: v for k, v in parents().items() if k in (top, mid, low, other)} == {
        top: None,
        mid: top,
        low: mid,
        other: None,
    }
    moved = call(
        http, hook, "crm.productsection.update", {"id": mid, "fields": {"SECTION_ID": other}}
    )
    assert moved["result"] is True
    assert parents()[mid] == other
    assert parents()[low] == mid  # the subtree came along
    assert portal.sections[mid]["iblockSectionId"] == other  # catalog.section.* show the same

    looped = call(
        http, hook, "crm.productsection.update", {"id": top, "fields": {"SECTION_ID": low}}
    )
    assert looped["result"] is True  # «Ремонт» under «Диски»: no loop, «Диски» is elsewhere now
    refused = call(
        http, hook, "crm.productsection.update", {"id": other, "fields": {"SECTION_ID": low}}
    )
    assert refused["error_description"] == "Parent section is not found."  # its own subsection
    assert parents()[other] is None
    missing = call(
        http, hook, "crm.productsection.add", {"fields": {"NAME": "x", "SECTION_ID": 999}}
    )
    assert missing["error_description"] == "Parent section is not found."
    nameless = call(http, hook, "crm.productsection.add", {"fields": {"SECTION_ID": top}})
    assert "NAME" in nameless["error_description"]
