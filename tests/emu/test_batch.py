"""``batch``: references, errors, halt, the 50-command cap, empty maps as ``[]`` (§5)."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx

from b24emu import Portal


def test_results_references_and_errors(portal: Portal, hook: str, http: httpx.Client) -> None:
    portal.call("crm.contact.add", {"fields": {"NAME": "Анна"}})
    portal.call("crm.deal.add", {"fields": {"TITLE": "d", "CONTACT_ID": 1}})
    before = portal.stats.requests_total
    body = http.post(
        hook + "batch",
        json={
            "halt": 0,
            "cmd": {
                "deal": "crm.deal.get?id=1",
                "contact": "crm.contact.get?id=$result[deal][CONTACT_ID]",
                "list": "crm.deal.list?filter[ID]=$result[deal][ID]&select[]=ID",
                "name": "crm.contact.list?filter[NAME]=$result[contact][NAME]&select[]=ID",
                "missing": "crm.deal.get?id=404",
                "nomethod": "crm.nope",
            },
        },
    ).json()
    assert portal.stats.requests_total == before + 1
    result = body["result"]
    assert result["result"]["contact"]["NAME"] == "Анна"
    assert result["result"]["list"] == [{"ID": "1"}]
    assert result["result"]["name"] == [{"ID": "1"}]
    assert result["result_error"] == {
        "missing": {"error": "", "error_description": "Not found"},
        "nomethod": {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"},
    }
    assert result["result_total"] == {"list": 1, "name": 1}
    assert result["result_next"] == []
    assert set(result["result_time"]) == {"deal", "contact", "list", "name"}
    assert "time" in body


def test_empty_maps_are_arrays_and_halt(portal: Portal, hook: str, http: httpx.Client) -> None:
    ok = http.post(hook + "batch", json={"cmd": {"f": "crm.deal.fields"}}).json()["result"]
    assert ok["result_error"] == []
    assert ok["result_total"] == []
    halted = http.post(
        hook + "batch",
        json={"halt": 1, "cmd": {"a": "crm.deal.get?id=5", "b": "crm.deal.add?fields[TITLE]=x"}},
    ).json()["result"]
    assert halted["result"] == []
    assert list(halted["result_error"]) == ["a"]
    assert portal.deals == {}
    listed = http.post(
        hook + "batch", json={"cmd": ["crm.deal.add?fields[TITLE]=a", "crm.deal.get?id=$result[0]"]}
    ).json()
    assert listed["result"]["result"][0] == 1
    assert listed["result"]["result"][1]["TITLE"] == "a"


def test_url_encoded_batch_and_whole_value_reference(
    portal: Portal, hook: str, http: httpx.Client
) -> None:
    portal.call("crm.contact.add", {"fields": {"NAME": "A"}})
    portal.call("crm.contact.add", {"fields": {"NAME": "B & C"}})
    cmd = {
        "cmd[ids]": "crm.contact.list?" + urlencode({"select[]": "ID", "order[ID]": "DESC"}),
        "cmd[again]": "crm.contact.list?filter[@ID]=$result[ids]",
        "cmd[amp]": "crm.contact.list?" + urlencode({"filter[NAME]": "B & C"}),
    }
    result = http.post(hook + "batch", data=cmd).json()["result"]
    assert [r["ID"] for r in result["result"]["ids"]] == ["2", "1"]
    assert result["result"]["amp"][0]["ID"] == "2"
    assert "again" in result["result"]


def test_fifty_command_cap_and_nested_batch(portal: Portal, hook: str, http: httpx.Client) -> None:
    cmd = {f"c{i}": f"crm.deal.add?fields[TITLE]=n{i}" for i in range(52)}
    cmd["inner"] = "batch?cmd[x]=crm.deal.fields"
    response = http.post(hook + "batch", json={"cmd": cmd})
    assert response.status_code == 200
    result = response.json()["result"]
    assert len(result["result"]) == 50
    assert len(portal.deals) == 50
    assert result["result_error"]["c50"]["error"] == "ERROR_BATCH_LENGTH_EXCEEDED"
    assert result["result_error"]["inner"]["error"] == "ERROR_BATCH_LENGTH_EXCEEDED"
    nested = http.post(hook + "batch", json={"cmd": {"inner": "batch?cmd[x]=crm.deal.fields"}})
    assert nested.json()["result"]["result_error"]["inner"]["error"] == (
        "ERROR_BATCH_METHOD_NOT_ALLOWED"
    )
    assert portal.stats.batch_commands_total == 54
