"""Filter prefixes, IN arrays, ordering and select masks of legacy lists (§7)."""

from __future__ import annotations

import httpx

from b24emu import Portal


def _ids(response: httpx.Response) -> list[int]:
    return [int(row["ID"]) for row in response.json()["result"]]


def test_prefixes(portal: Portal, hook: str, http: httpx.Client) -> None:
    for amount, title in [(100, "Alpha"), (200, "Beta"), (300, "Gamma"), (400, "alphabet")]:
        portal.call(
            "crm.deal.add",
            {"fields": {"TITLE": title, "OPPORTUNITY": amount, "IS_MANUAL_OPPORTUNITY": "Y"}},
        )

    def ids(flt: dict[str, object], order: dict[str, str] | None = None) -> list[int]:
        body = {"filter": flt, "select": ["ID"], "order": order or {"ID": "ASC"}}
        return _ids(http.post(hook + "crm.deal.list", json=body))

    assert ids({">OPPORTUNITY": 200}) == [3, 4]
    assert ids({">=OPPORTUNITY": 200, "<OPPORTUNITY": 400}) == [2, 3]
    assert ids({"<=OPPORTUNITY": "200.00"}) == [1, 2]
    assert ids({"@ID": [1, 3]}) == [1, 3]
    assert ids({"!@ID": [1, 3]}) == [2, 4]
    assert ids({"ID": [2, 4]}) == [2, 4]
    assert ids({"=ID": 2}) == [2]
    assert ids({"!=ID": 2}) == [1, 3, 4]
    assert ids({"!ID": 2}) == [1, 3, 4]
    assert ids({"%TITLE": "alpha"}) == [1, 4]
    assert ids({"=%TITLE": "Alpha%"}) == [1, 4]
    assert ids({}, {"OPPORTUNITY": "DESC"}) == [4, 3, 2, 1]
    form = http.get(
        hook + "crm.deal.list", params={"filter[@ID][]": ["2", "3"], "order[ID]": "DESC"}
    )
    assert _ids(form) == [3, 2]


def test_stage_semantic_and_datetime_filters(portal: Portal, hook: str, http: httpx.Client) -> None:
    portal.call("crm.deal.add", {"fields": {"TITLE": "won", "STAGE_ID": "WON"}})
    portal.call("crm.deal.add", {"fields": {"TITLE": "open"}})
    won = http.post(hook + "crm.deal.list", json={"filter": {"STAGE_SEMANTIC_ID": "S"}})
    assert _ids(won) == [1]
    modified = portal.deals[2]["DATE_MODIFY"]
    later = http.post(hook + "crm.deal.list", json={"filter": {">=DATE_MODIFY": modified}})
    assert 2 in _ids(later)
    none = http.post(hook + "crm.deal.list", json={"filter": {">DATE_MODIFY": "2999-01-01"}})
    assert _ids(none) == []


def test_select_masks_and_multifields(portal: Portal, hook: str, http: httpx.Client) -> None:
    portal.call(
        "crm.contact.userfield.add", {"fields": {"FIELD_NAME": "LEVEL", "USER_TYPE_ID": "string"}}
    )
    portal.call(
        "crm.contact.add",
        {"fields": {"NAME": "A", "UF_CRM_LEVEL": "gold", "PHONE": [{"VALUE": "+71"}]}},
    )
    default = http.get(hook + "crm.contact.list").json()["result"][0]
    assert default["UF_CRM_LEVEL"] == "gold"
    assert "PHONE" not in default
    star = http.post(hook + "crm.contact.list", json={"select": ["*"]}).json()["result"][0]
    assert "UF_CRM_LEVEL" not in star
    assert "PHONE" not in star
    assert "NAME" in star
    picked = http.post(
        hook + "crm.contact.list", json={"select": ["NAME", "PHONE", "UF_*"]}
    ).json()["result"][0]
    assert set(picked) == {"ID", "NAME", "PHONE", "UF_CRM_LEVEL"}
    assert picked["PHONE"][0]["VALUE"] == "+71"
    by_phone = http.post(hook + "crm.contact.list", json={"filter": {"PHONE": "+71"}})
    assert _ids(by_phone) == [1]
