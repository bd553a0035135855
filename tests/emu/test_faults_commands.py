"""Faults aimed at single commands (one sub-command of a batch fails, the others run) and the
strict reading of ``crm.item.productrow.list`` (an array in ``=ownerId`` refused)."""

from __future__ import annotations

import httpx

from b24emu import CommandError, Faults, Portal


def _deals(portal: Portal, n: int) -> list[int]:
    ids = []
    for _ in range(n):
        deal = portal.call("crm.deal.add", {"fields": {"TITLE": "d"}})["result"]
        portal.call(
            "crm.deal.productrows.set",
            {"id": deal, "rows": [{"PRODUCT_NAME": "x", "PRICE": 100, "QUANTITY": 1}]},
        )
        ids.append(int(deal))
    return ids


def _rows(owner: object) -> str:
    return f"crm.item.productrow.list?filter[%3DownerType]=D&{owner}"


def test_one_command_of_a_batch_fails_the_others_run(
    portal: Portal, hook: str, http: httpx.Client
) -> None:
    a, b, c = _deals(portal, 3)
    portal.faults = Faults(command_errors=(CommandError("crm.item.productrow.list", mentions=b),))
    body = http.post(
        hook + "batch",
        json={
            "halt": 0,
            "cmd": {
                "ab": _rows(f"filter[%3DownerId][0]={a}&filter[%3DownerId][1]={b}"),
                "c": _rows(f"filter[%3DownerId]={c}"),
                "deal": f"crm.deal.get?id={b}",  # another method mentioning b still runs
            },
        },
    ).json()["result"]
    assert body["result_error"] == {
        "ab": {"error": "ACCESS_DENIED", "error_description": "Access denied"}
    }
    assert [r["ownerId"] for r in body["result"]["c"]["productRows"]] == [c]
    assert body["result"]["deal"]["ID"] == str(b)
    # a call alone fails the same way, with the status the fault names
    alone = http.post(
        hook + "crm.item.productrow.list", json={"filter": {"=ownerType": "D", "=ownerId": b}}
    )
    assert (alone.status_code, alone.json()["error"]) == (400, "ACCESS_DENIED")
    # the test's own calls are never failed
    inside = portal.call("crm.item.productrow.list", {"filter": {"=ownerType": "D", "=ownerId": b}})
    assert [r["ownerId"] for r in inside["result"]["productRows"]] == [b]
    portal.faults = Faults()
    again = http.post(
        hook + "crm.item.productrow.list", json={"filter": {"=ownerType": "D", "=ownerId": b}}
    )
    assert again.status_code == 200


def test_strict_product_rows_refuse_an_array_of_owners(
    portal: Portal, hook: str, http: httpx.Client
) -> None:
    a, b = _deals(portal, 2)
    listed = {"filter": {"=ownerType": "D", "=ownerId": [a, b]}}
    kind = http.post(hook + "crm.item.productrow.list", json=listed).json()
    assert sorted(r["ownerId"] for r in kind["result"]["productRows"]) == [a, b]
    portal.strict_product_rows = True
    strict = http.post(hook + "crm.item.productrow.list", json=listed)
    assert (strict.status_code, strict.json()["error"]) == (400, "INVALID_ARG_VALUE")
    one = http.post(
        hook + "crm.item.productrow.list", json={"filter": {"=ownerType": "D", "=ownerId": a}}
    ).json()
    assert [r["ownerId"] for r in one["result"]["productRows"]] == [a]
    gone = http.post(
        hook + "crm.item.productrow.list", json={"filter": {"=ownerType": "D", "=ownerId": 999}}
    )
    assert gone.json()["error"] == "ACCESS_DENIED"
