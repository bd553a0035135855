"""Deal semantics: stages, close date, OPPORTUNITY from product rows, contacts (§7.1–§7.3)."""

from __future__ import annotations

import httpx

from b24emu import Portal


def test_stage_semantics_close_date_and_modify(
    portal: Portal, hook: str, http: httpx.Client
) -> None:
    deal_id = http.post(
        hook + "crm.deal.add",
        json={"fields": {"TITLE": "Order", "CLOSEDATE": "2030-01-01", "BEGINDATE": "2029-12-01"}},
    ).json()["result"]
    assert isinstance(deal_id, int)
    deal = http.get(hook + "crm.deal.get", params={"id": deal_id}).json()["result"]
    assert (deal["STAGE_ID"], deal["STAGE_SEMANTIC_ID"], deal["CLOSED"]) == ("NEW", "P", "N")
    assert deal["CLOSEDATE"] == "2030-01-01T03:00:00+03:00"
    assert deal["CATEGORY_ID"] == "0"
    assert deal["OPPORTUNITY"] == "0.00"
    assert "CONTACT_IDS" not in deal
    update = http.post(
        hook + "crm.deal.update",
        json={
            "id": deal_id,
            "fields": {
                "STAGE_ID": "LOSE",
                "STAGE_SEMANTIC_ID": "S",
                "CATEGORY_ID": 1,
                "DATE_CREATE": "2001-01-01",
            },
        },
    )
    assert update.json()["result"] is True
    closed = portal.deals[deal_id]
    assert (closed["STAGE_SEMANTIC_ID"], closed["CLOSED"]) == ("F", "Y")
    assert closed["CLOSEDATE"].startswith(portal.today().isoformat())
    assert closed["CATEGORY_ID"] == "0"  # immutable on update, silently ignored
    assert closed["DATE_CREATE"] == deal["DATE_CREATE"]  # read-only, silently ignored
    assert closed["DATE_MODIFY"] >= deal["DATE_MODIFY"]


def test_opportunity_follows_product_rows_unless_manual(
    portal: Portal, hook: str, http: httpx.Client
) -> None:
    deal_id = portal.call("crm.deal.add", {"fields": {"TITLE": "x"}})["result"]
    rows = [
        {
            "PRODUCT_NAME": "Service",
            "PRICE": 899.1,
            "QUANTITY": 2,
            "DISCOUNT_TYPE_ID": 2,
            "DISCOUNT_RATE": 10,
            "DISCOUNT_SUM": 99.9,
        },
        {"PRODUCT_NAME": "Bonus discount", "PRICE": -100, "QUANTITY": 1},
        {
            "PRODUCT_NAME": "Fixed",
            "PRICE": 50,
            "QUANTITY": 1,
            "DISCOUNT_TYPE_ID": 1,
            "DISCOUNT_SUM": 25,
        },
    ]
    assert (
        http.post(hook + "crm.deal.productrows.set", json={"id": deal_id, "rows": rows}).json()[
            "result"
        ]
        is True
    )
    assert portal.deals[deal_id]["OPPORTUNITY"] == "1748.20"
    got = http.get(hook + "crm.deal.productrows.get", params={"id": deal_id}).json()["result"]
    assert got[0]["PRICE"] == 899.1
    assert got[0]["PRICE_NETTO"] == 999
    assert got[0]["DISCOUNT_SUM"] == 99.9
    assert got[0]["PRICE_ACCOUNT"] == "899.10"
    assert got[2]["PRICE_NETTO"] == 75
    assert got[2]["DISCOUNT_RATE"] == 33.33
    assert isinstance(got[0]["ID"], str)
    assert isinstance(got[0]["PRODUCT_ID"], int)
    again = portal.call("crm.deal.productrows.set", {"id": deal_id, "rows": rows[:1]})
    assert again["result"] is True
    new_ids = [r["ID"] for r in portal.product_rows[deal_id]]
    assert new_ids
    assert not set(new_ids) & {r["ID"] for r in got}
    assert portal.deals[deal_id]["OPPORTUNITY"] == "1798.20"
    portal.call(
        "crm.deal.update",
        {"id": deal_id, "fields": {"IS_MANUAL_OPPORTUNITY": "Y", "OPPORTUNITY": 5000}},
    )
    portal.call("crm.deal.productrows.set", {"id": deal_id, "rows": rows})
    assert portal.deals[deal_id]["OPPORTUNITY"] == "5000.00"
    portal.call("crm.deal.update", {"id": deal_id, "fields": {"IS_MANUAL_OPPORTUNITY": "N"}})
    assert portal.deals[deal_id]["OPPORTUNITY"] == "1748.20"


def test_discount_validation(portal: Portal, hook: str, http: httpx.Client) -> None:
    deal_id = portal.call("crm.deal.add", {"fields": {}})["result"]
    bad = http.post(
        hook + "crm.deal.productrows.set",
        json={"id": deal_id, "rows": [{"PRICE": 10, "DISCOUNT_TYPE_ID": 1}]},
    )
    assert bad.status_code == 400
    assert bad.json()["error"] == "ERROR_CORE"
    assert "DISCOUNT_SUM" in bad.json()["error_description"]
    missing = http.post(hook + "crm.deal.productrows.get", json={"id": 404})
    assert missing.json() == {"error": "", "error_description": "Not found"}


def test_contacts_of_a_deal(portal: Portal, hook: str, http: httpx.Client) -> None:
    for name in ("A", "B", "C"):
        portal.call("crm.contact.add", {"fields": {"NAME": name}})
    deal_id = portal.call("crm.deal.add", {"fields": {"CONTACT_IDS": [2, 1]}})["result"]
    assert portal.deals[deal_id]["CONTACT_ID"] == "2"
    items = http.get(hook + "crm.deal.contact.items.get", params={"id": deal_id}).json()["result"]
    assert items == [
        {"CONTACT_ID": 2, "SORT": 10, "ROLE_ID": 0, "IS_PRIMARY": "Y"},
        {"CONTACT_ID": 1, "SORT": 20, "ROLE_ID": 0, "IS_PRIMARY": "N"},
    ]
    http.post(
        hook + "crm.deal.contact.items.set",
        json={"id": deal_id, "items": [{"CONTACT_ID": 3}, {"CONTACT_ID": 1, "IS_PRIMARY": "Y"}]},
    )
    assert portal.contacts_of_deal(deal_id) == [3, 1]
    assert portal.deals[deal_id]["CONTACT_ID"] == "1"
    added = http.post(
        hook + "crm.deal.contact.add", json={"id": deal_id, "fields": {"CONTACT_ID": 2}}
    ).json()
    assert added["result"] is True
    again = http.post(
        hook + "crm.deal.contact.add", json={"id": deal_id, "fields": {"CONTACT_ID": 2}}
    ).json()
    assert again["result"] is False
    http.post(hook + "crm.deal.contact.delete", json={"id": deal_id, "fields": {"CONTACT_ID": 1}})
    assert portal.deals[deal_id]["CONTACT_ID"] == "3"
    portal.call("crm.contact.delete", {"id": 3})
    assert portal.deals[deal_id]["CONTACT_ID"] == "2"
    missing = http.get(hook + "crm.deal.contact.items.get", params={"id": 99}).json()
    assert missing == {"error": "", "error_description": "Not found."}


def test_item_list_with_contact_ids_and_in_filter(
    portal: Portal, hook: str, http: httpx.Client
) -> None:
    portal.call("crm.contact.add", {"fields": {"NAME": "A"}})
    portal.call("crm.contact.add", {"fields": {"NAME": "B"}})
    for contacts in ([1], [1, 2], []):
        portal.call(
            "crm.deal.add",
            {"fields": {"CONTACT_IDS": contacts, "OPPORTUNITY": 10, "IS_MANUAL_OPPORTUNITY": "Y"}},
        )
    body = http.post(
        hook + "crm.item.list",
        json={
            "entityTypeId": 2,
            "select": ["id", "contactIds", "opportunity", "stageId", "contactId"],
            "filter": {"@id": [2, 3]},
            "order": {"id": "DESC"},
        },
    ).json()
    assert body["result"]["items"] == [
        {"id": 3, "stageId": "NEW", "opportunity": 10, "contactId": 0, "contactIds": []},
        {"id": 2, "stageId": "NEW", "opportunity": 10, "contactId": 1, "contactIds": [1, 2]},
    ]
    assert body["total"] == 2
    bad = http.post(hook + "crm.item.list", json={"entityTypeId": 2, "filter": {"nope": 1}})
    assert bad.status_code == 400
    assert bad.json()["error"] == "INVALID_ARG_VALUE"


def test_item_productrow_list(portal: Portal, hook: str, http: httpx.Client) -> None:
    for _ in range(3):
        deal_id = portal.call("crm.deal.add", {"fields": {}})["result"]
        portal.call(
            "crm.deal.productrows.set",
            {
                "id": deal_id,
                "rows": [{"PRODUCT_NAME": f"r{i}", "PRICE": 10, "SORT": i} for i in range(30)],
            },
        )
    one = http.post(
        hook + "crm.item.productrow.list", json={"filter": {"=ownerType": "D", "=ownerId": 2}}
    ).json()
    assert one["total"] == 30
    assert "next" not in one
    assert {r["ownerId"] for r in one["result"]["productRows"]} == {2}
    many = http.post(
        hook + "crm.item.productrow.list", json={"filter": {"=ownerType": "D", "=ownerId": [1, 3]}}
    ).json()
    assert (many["total"], many["next"], len(many["result"]["productRows"])) == (60, 50, 50)
    form = http.get(
        hook + "crm.item.productrow.list",
        params={"filter[=ownerType]": "D", "filter[=ownerId][]": ["1", "3"], "start": 50},
    ).json()
    assert len(form["result"]["productRows"]) == 10
    assert "next" not in form
    missing = http.post(hook + "crm.item.productrow.list", json={"filter": {"=ownerId": 1}})
    assert missing.json()["error"] == "REQUIRED_ARG_MISSING"


def test_close_date_sync_is_a_switch(portal: Portal, hook: str, http: httpx.Client) -> None:
    """A won deal's CLOSEDATE becomes today (the portal's close date sync), unless the same
    update sets it; with the sync off it stays as the manager (or an integration) left it."""
    made = [
        http.post(hook + "crm.deal.add", json={"fields": {"CLOSEDATE": "2031-03-12"}}).json()[
            "result"
        ]
        for _ in range(3)
    ]
    http.post(hook + "crm.deal.update", json={"id": made[0], "fields": {"STAGE_ID": "WON"}})
    http.post(
        hook + "crm.deal.update",
        json={"id": made[1], "fields": {"STAGE_ID": "WON", "CLOSEDATE": "2031-04-01"}},
    )
    portal.close_date_sync = False
    http.post(hook + "crm.deal.update", json={"id": made[2], "fields": {"STAGE_ID": "WON"}})
    shown = [
        http.get(hook + "crm.deal.get", params={"id": d}).json()["result"]["CLOSEDATE"]
        for d in made
    ]
    assert shown[0].startswith(portal.today().isoformat())
    assert shown[1].startswith("2031-04-01")
    assert shown[2].startswith("2031-03-12")
