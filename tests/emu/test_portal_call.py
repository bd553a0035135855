"""In-process ``portal.call``: same envelopes and semantics, no HTTP, no limits."""

from __future__ import annotations

from b24emu import Portal


def test_call_returns_envelopes() -> None:
    portal = Portal()
    added = portal.call("crm.deal.add", {"fields": {"TITLE": "x"}})
    assert added["result"] == 1
    assert "time" in added
    listed = portal.call("CRM.DEAL.LIST", {"select": ["ID"]})
    assert listed["result"] == [{"ID": "1"}]
    assert listed["total"] == 1
    missing = portal.call("crm.deal.get", {"id": 2})
    assert missing == {"error": "", "error_description": "Not found"}
    unknown = portal.call("crm.nothing")
    assert unknown["error"] == "ERROR_METHOD_NOT_FOUND"
    # results are copies: mutating them does not change the portal
    got = portal.call("crm.deal.get", {"id": 1})["result"]
    got["TITLE"] = "changed"
    assert portal.deals[1]["TITLE"] == "x"
    assert portal.stats.requests_total == 0
