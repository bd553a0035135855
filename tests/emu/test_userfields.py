"""User fields (§8): prefixing, integer ids, duplicates, enumeration items, value formats."""

from __future__ import annotations

import httpx

from b24emu import Portal


def test_add_list_and_duplicates(portal: Portal, hook: str, http: httpx.Client) -> None:
    added = http.post(
        hook + "crm.contact.userfield.add",
        json={
            "fields": {
                "FIELD_NAME": "loyalty_level",
                "USER_TYPE_ID": "enumeration",
                "LABEL": "Уровень",
                "LIST": [
                    {"VALUE": "Silver", "SORT": 10, "DEF": "Y"},
                    {"VALUE": "Gold", "SORT": 20},
                    {"VALUE": ""},
                ],
            }
        },
    ).json()
    assert isinstance(added["result"], int)
    for name, expected in [("UF_BALANCE", "UF_CRM_BALANCE"), ("UF_CRM_CARD", "UF_CRM_CARD")]:
        http.post(
            hook + "crm.contact.userfield.add",
            json={"fields": {"FIELD_NAME": name, "USER_TYPE_ID": "double"}},
        )
        assert expected in portal.call("crm.contact.fields")["result"]
    duplicate = http.post(
        hook + "crm.contact.userfield.add",
        json={"fields": {"FIELD_NAME": "LOYALTY_LEVEL", "USER_TYPE_ID": "string"}},
    )
    assert duplicate.status_code == 400
    assert duplicate.json()["error"] == "ERROR_CORE"
    assert "UF_CRM_LOYALTY_LEVEL" in duplicate.json()["error_description"]
    no_type = http.post(hook + "crm.deal.userfield.add", json={"fields": {"FIELD_NAME": "X"}})
    assert no_type.json() == {
        "error": "",
        "error_description": "The 'USER_TYPE_ID' field is not found.",
    }
    bad = http.post(
        hook + "crm.deal.userfield.add",
        json={"fields": {"FIELD_NAME": "bad-name", "USER_TYPE_ID": "string"}},
    )
    assert bad.json()["error"] == "ERROR_CORE"
    listed = http.post(
        hook + "crm.contact.userfield.list",
        json={"filter": {"FIELD_NAME": "UF_CRM_LOYALTY_LEVEL", "LANG": "ru"}},
    ).json()
    assert listed["total"] == 1
    field = listed["result"][0]
    assert (field["ID"], field["ENTITY_ID"], field["SORT"]) == (
        str(added["result"]),
        "CRM_CONTACT",
        "100",
    )
    assert field["EDIT_FORM_LABEL"] == "Уровень"
    assert [(i["VALUE"], i["DEF"]) for i in field["LIST"]] == [("Silver", "Y"), ("Gold", "N")]
    assert all(isinstance(i["ID"], str) for i in field["LIST"])
    no_lang = http.post(
        hook + "crm.contact.userfield.list", json={"filter": {"FIELD_NAME": "UF_CRM_LOYALTY_LEVEL"}}
    ).json()["result"][0]
    assert "EDIT_FORM_LABEL" not in no_lang
    assert http.post(hook + "crm.deal.userfield.list", json={}).json()["result"] == []
    described = portal.call("crm.contact.fields")["result"]["UF_CRM_LOYALTY_LEVEL"]
    assert described["title"] == "UF_CRM_LOYALTY_LEVEL"
    assert described["listLabel"] == "Уровень"
    assert described["items"][1]["VALUE"] == "Gold"


def test_values_are_stored_per_type(portal: Portal, hook: str, http: httpx.Client) -> None:
    for name, kind, multiple in [
        ("FLAG", "boolean", "N"),
        ("COUNT", "integer", "N"),
        ("BALANCE", "double", "N"),
        ("BORN", "date", "N"),
        ("TAGS", "string", "Y"),
        ("LEVEL", "enumeration", "N"),
    ]:
        portal.call(
            "crm.deal.userfield.add",
            {
                "fields": {
                    "FIELD_NAME": name,
                    "USER_TYPE_ID": kind,
                    "MULTIPLE": multiple,
                    "LIST": [{"VALUE": "A"}, {"VALUE": "B"}],
                }
            },
        )
    level_ids = [
        i["ID"]
        for d in portal.userfields.values()
        if d["FIELD_NAME"] == "UF_CRM_LEVEL"
        for i in d["LIST"]
    ]
    deal_id = http.post(
        hook + "crm.deal.add",
        data={
            "fields[UF_CRM_FLAG]": "N",
            "fields[UF_CRM_COUNT]": "42",
            "fields[UF_CRM_BALANCE]": "150.50",
            "fields[UF_CRM_BORN]": "2001-11-11",
            "fields[UF_CRM_TAGS][]": ["a", "b"],
            "fields[UF_CRM_LEVEL]": str(level_ids[1]),
            "fields[UF_CRM_UNKNOWN]": "x",
        },
    ).json()["result"]
    deal = http.get(hook + "crm.deal.get", params={"id": deal_id}).json()["result"]
    assert deal["UF_CRM_FLAG"] == "1"  # "N" is a non-empty string: truthy for the storage layer
    assert (deal["UF_CRM_COUNT"], deal["UF_CRM_BALANCE"]) == ("42", "150.5")
    assert deal["UF_CRM_BORN"] == "2001-11-11T03:00:00+03:00"
    assert deal["UF_CRM_TAGS"] == ["a", "b"]
    assert deal["UF_CRM_LEVEL"] == str(level_ids[1])
    assert "UF_CRM_UNKNOWN" not in deal
    item = http.post(hook + "crm.item.get", json={"entityTypeId": 2, "id": deal_id}).json()
    typed = item["result"]["item"]
    assert (typed["ufCrmFlag"], typed["ufCrmCount"], typed["ufCrmBalance"]) == ("Y", 42, 150.5)
    assert typed["ufCrmLevel"] == level_ids[1]
    original = http.post(
        hook + "crm.item.get", json={"entityTypeId": 2, "id": deal_id, "useOriginalUfNames": "Y"}
    ).json()["result"]["item"]
    assert original["UF_CRM_TAGS"] == ["a", "b"]
    portal.call("crm.deal.update", {"id": deal_id, "fields": {"UF_CRM_FLAG": 0}})
    assert portal.deals[deal_id]["UF_CRM_FLAG"] == "0"
