"""50-row pages, ``start`` rounding, ``next``/``total``, ``start=-1`` and keyset paging (§4)."""

from __future__ import annotations

import httpx

from b24emu import Portal


def _contacts(portal: Portal, count: int) -> None:
    for index in range(count):
        portal.call("crm.contact.add", {"fields": {"NAME": f"C{index:03d}", "LAST_NAME": "X"}})


def test_pages_next_total_and_rounding(portal: Portal, hook: str, http: httpx.Client) -> None:
    _contacts(portal, 120)
    first = http.get(hook + "crm.contact.list", params={"select[]": "ID"}).json()
    assert len(first["result"]) == 50
    assert (first["next"], first["total"]) == (50, 120)
    assert first["result"][0] == {"ID": "1"}
    last = http.get(hook + "crm.contact.list", params={"start": 100}).json()
    assert len(last["result"]) == 20
    assert "next" not in last
    assert last["total"] == 120
    rounded = http.get(hook + "crm.contact.list", params={"start": 73}).json()
    assert rounded["result"][0]["ID"] == "51"
    assert rounded["next"] == 100
    beyond = http.get(hook + "crm.contact.list", params={"start": 500}).json()
    assert beyond["result"] == []
    assert beyond["total"] == 120


def test_start_minus_one_and_keyset_iteration(
    portal: Portal, hook: str, http: httpx.Client
) -> None:
    _contacts(portal, 120)
    seen: list[str] = []
    last_id = 0
    while True:
        page = http.post(
            hook + "crm.contact.list",
            json={
                "order": {"ID": "ASC"},
                "filter": {">ID": last_id},
                "select": ["ID"],
                "start": -1,
            },
        ).json()
        assert page["total"] == 0  # legacy lists answer total 0 without counting
        assert "next" not in page
        seen += [row["ID"] for row in page["result"]]
        if len(page["result"]) < 50:
            break
        last_id = int(page["result"][-1]["ID"])
    assert seen == [str(i) for i in range(1, 121)]


def test_modern_list_omits_total_with_minus_one(
    portal: Portal, hook: str, http: httpx.Client
) -> None:
    for _ in range(55):
        portal.call("crm.deal.add", {"fields": {"TITLE": "d"}})
    counted = http.post(hook + "crm.item.list", json={"entityTypeId": 2, "select": ["id"]}).json()
    assert (counted["total"], counted["next"]) == (55, 50)
    assert counted["result"]["items"][0] == {"id": 1}
    fast = http.post(
        hook + "crm.item.list", json={"entityTypeId": 2, "select": ["id"], "start": -1}
    ).json()
    assert "total" not in fast
    assert "next" not in fast
    assert len(fast["result"]["items"]) == 50
