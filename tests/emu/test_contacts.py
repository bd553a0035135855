"""Contacts: multifield merge semantics (§7.4.2), duplicates by phone, companies."""

from __future__ import annotations

import httpx

from b24emu import Portal


def test_multifields_are_merged_not_replaced(portal: Portal, hook: str, http: httpx.Client) -> None:
    contact_id = http.post(
        hook + "crm.contact.add",
        json={
            "fields": {
                "NAME": "Анна",
                "PHONE": [{"VALUE": "+79161234567", "VALUE_TYPE": "MOBILE"}],
                "EMAIL": [{"VALUE": "anna@example.ru"}],
            }
        },
    ).json()["result"]
    contact = http.get(hook + "crm.contact.get", params={"id": contact_id}).json()["result"]
    phone_id = contact["PHONE"][0]["ID"]
    assert contact["PHONE"] == [
        {"ID": phone_id, "VALUE_TYPE": "MOBILE", "VALUE": "+79161234567", "TYPE_ID": "PHONE"}
    ]
    assert contact["EMAIL"][0]["VALUE_TYPE"] == "WORK"
    assert contact["HAS_EMAIL"] == "Y"
    # sending "the full new list" appends: the old phone stays
    http.post(
        hook + "crm.contact.update",
        json={
            "id": contact_id,
            "fields": {"PHONE": [{"VALUE": "+70000000001", "VALUE_TYPE": "WORK"}]},
        },
    )
    phones = portal.contacts[contact_id]["PHONE"]
    assert [p["VALUE"] for p in phones] == ["+79161234567", "+70000000001"]
    # change by ID, delete by ID with DELETE=Y or empty VALUE
    http.post(
        hook + "crm.contact.update",
        data={
            "id": contact_id,
            "fields[PHONE][0][ID]": phone_id,
            "fields[PHONE][0][VALUE]": "+79990000000",
        },
    )
    assert portal.contacts[contact_id]["PHONE"][0]["VALUE"] == "+79990000000"
    second = portal.contacts[contact_id]["PHONE"][1]["ID"]
    portal.call(
        "crm.contact.update",
        {
            "id": contact_id,
            "fields": {"PHONE": [{"ID": phone_id, "DELETE": "Y"}, {"ID": second, "VALUE": ""}]},
        },
    )
    assert "PHONE" not in portal.contacts[contact_id]
    got = http.get(hook + "crm.contact.get", params={"id": contact_id}).json()["result"]
    assert "PHONE" not in got
    assert got["HAS_PHONE"] == "N"


def test_invalid_email_is_rejected(hook: str, http: httpx.Client) -> None:
    bad = http.post(
        hook + "crm.contact.add",
        json={"fields": {"NAME": "x", "EMAIL": [{"VALUE": "not-an-email", "VALUE_TYPE": "WORK"}]}},
    )
    assert bad.status_code == 400
    assert bad.json() == {
        "error": "ERROR_CORE",
        "error_description": "The field `Work e-mail` contains an invalid address",
    }


def test_find_by_phone(portal: Portal, hook: str, http: httpx.Client) -> None:
    portal.call(
        "crm.contact.add", {"fields": {"NAME": "A", "PHONE": [{"VALUE": "+7 916 123-45-67"}]}}
    )
    portal.call("crm.contact.add", {"fields": {"NAME": "B", "PHONE": [{"VALUE": "89161234567"}]}})
    portal.call("crm.company.add", {"fields": {"TITLE": "C", "PHONE": [{"VALUE": "+79161234567"}]}})
    found = http.post(
        hook + "crm.duplicate.findbycomm", json={"type": "PHONE", "values": ["+79161234567"]}
    ).json()["result"]
    assert found == {"CONTACT": [1, 2], "COMPANY": [1]}
    only = http.post(
        hook + "crm.duplicate.findbycomm",
        json={"type": "PHONE", "values": ["+79161234567"], "entity_type": "CONTACT"},
    ).json()
    assert only["result"] == {"CONTACT": [1, 2]}
    none = http.post(
        hook + "crm.duplicate.findbycomm", json={"type": "EMAIL", "values": ["x@y.z"]}
    ).json()
    assert none["result"] == []
    no_type = http.post(hook + "crm.duplicate.findbycomm", json={"values": ["1"]}).json()
    assert no_type == {"error": "", "error_description": "Communication type is not defined."}


def test_companies(portal: Portal, hook: str, http: httpx.Client) -> None:
    company_id = http.post(
        hook + "crm.company.add", json={"fields": {"TITLE": "ООО Ромашка"}}
    ).json()["result"]
    http.post(hook + "crm.company.update", json={"id": company_id, "fields": {"REVENUE": 1000}})
    company = http.get(hook + "crm.company.get", params={"id": company_id}).json()["result"]
    assert company["TITLE"] == "ООО Ромашка"
    assert company["REVENUE"] == "1000"
    listed = http.get(hook + "crm.company.list").json()
    assert listed["total"] == 1
