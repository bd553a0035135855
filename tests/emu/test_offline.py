"""Offline events (§6.7): a queue per app, the latest record per object, reservation by
``process_id``, loop prevention by ``auth_connector``, and the ``ONOFFLINEEVENT`` signal."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from b24emu import EmuServer, Portal

from .conftest import Receiver

CLIENT, SECRET = "local.offline.app", "secret"


class App:
    def __init__(self, portal: Portal, server: EmuServer, http: httpx.Client) -> None:
        portal.register_app(CLIENT, SECRET, scopes=("crm",))
        self.portal, self.server, self.http = portal, server, http
        self.token = portal.issue_tokens(CLIENT)["access_token"]

    def raw(self, method: str, token: str | None = None, **params: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self.http.post(
            f"{self.server.url}/rest/{method}", json={"auth": token or self.token, **params}
        ).json()
        return answer

    def __call__(self, method: str, **params: Any) -> Any:
        answer = self.raw(method, **params)
        assert "error" not in answer, answer
        return answer["result"]


@pytest.fixture
def app(portal: Portal, server: EmuServer, http: httpx.Client) -> App:
    return App(portal, server, http)


def _deal(portal: Portal, **params: Any) -> int:
    return int(portal.call("crm.deal.add", {"fields": {"TITLE": "x"}, **params})["result"])


def test_offline_binding_needs_an_admin_and_shows_in_event_get(app: App, portal: Portal) -> None:
    manager = portal.issue_tokens(CLIENT, user_id=2)["access_token"]
    refused = app.raw("event.bind", token=manager, event="ONCRMDEALADD", event_type="offline")
    assert refused["error"] == "ACCESS_DENIED"
    assert app("event.bind", event="ONCRMDEALADD", event_type="offline") is True
    again = app.raw("event.bind", event="ONCRMDEALADD", event_type="offline")
    assert again["error"] == "ERROR_CORE"
    assert app("event.get") == [
        {"event": "ONCRMDEALADD", "handler": "", "auth_type": "0", "offline": 1}
    ]
    assert app("event.unbind", event="ONCRMDEALADD", event_type="offline") == {"count": 1}
    assert app("event.get") == []


def test_webhooks_cannot_read_the_queue(portal: Portal, hook: str, http: httpx.Client) -> None:
    answer = http.post(hook + "event.offline.get", json={}).json()
    assert answer["error"] == "WRONG_AUTH_TYPE"


def test_latest_record_per_object_and_clear_by_default(app: App, portal: Portal) -> None:
    for event in ("ONCRMDEALADD", "ONCRMDEALUPDATE"):
        app("event.bind", event=event, event_type="offline")
    before_install = _deal(portal)
    portal.install_app(CLIENT)
    deal = _deal(portal)
    for n in range(30):
        portal.call("crm.deal.update", {"id": deal, "fields": {"TITLE": f"t{n}"}})
    listed = app("event.offline.list")
    assert [(r["EVENT_NAME"], r["EVENT_DATA"]) for r in listed] == [
        ("ONCRMDEALADD", {"FIELDS": {"ID": str(deal)}}),
        ("ONCRMDEALUPDATE", {"FIELDS": {"ID": str(deal)}}),
    ]
    assert {r["PROCESS_ID"] for r in listed} == {""}
    assert {r["ERROR"] for r in listed} == {"0"}
    assert before_install != deal  # its ADD came before the install: not queued
    got = app("event.offline.get")
    assert got["process_id"] is None
    assert [r["EVENT_NAME"] for r in got["events"]] == ["ONCRMDEALADD", "ONCRMDEALUPDATE"]
    assert set(got["events"][0]) == {
        "ID",
        "TIMESTAMP_X",
        "EVENT_NAME",
        "EVENT_DATA",
        "EVENT_ADDITIONAL",
        "MESSAGE_ID",
    }
    assert app("event.offline.list") == []  # clear=1 deleted them


@pytest.mark.parametrize("strict", [False, True])
def test_reserve_reread_and_clear_by_process(app: App, portal: Portal, strict: bool) -> None:
    portal.events.offline.strict_reread = strict
    app("event.bind", event="ONCRMDEALADD", event_type="offline")
    app("event.bind", event="ONCRMDEALUPDATE", event_type="offline")
    portal.install_app(CLIENT)
    deals = [_deal(portal) for _ in range(5)]
    first = app("event.offline.get", clear=0, limit=3)
    pid = first["process_id"]
    assert len(pid) == 32
    assert len(first["events"]) == 3
    second = app("event.offline.get", clear=0, limit=3)  # parallel readers get disjoint sets
    assert {e["ID"] for e in second["events"]}.isdisjoint(e["ID"] for e in first["events"])
    assert second["process_id"] != pid
    # an object of a reserved record changes: a new record, the reserved one stays
    portal.call("crm.deal.update", {"id": deals[0], "fields": {"TITLE": "later"}})
    portal.call("crm.deal.add", {"fields": {"TITLE": "new"}})
    reread = app("event.offline.get", clear=0, process_id=pid, limit=50)
    ids = [e["ID"] for e in reread["events"]]
    assert reread["process_id"] == pid
    assert ids[:3] == [e["ID"] for e in first["events"]]
    assert len(ids) == (3 if strict else 5)  # the reserved ones, and (lax) the two new ones
    app("event.offline.clear", process_id=pid, id=[int(ids[0])])
    left = {r["ID"]: r["PROCESS_ID"] for r in app("event.offline.list")}
    assert ids[0] not in left
    assert left[ids[1]] == pid
    app("event.offline.clear", process_id=pid)
    assert pid not in {r["PROCESS_ID"] for r in app("event.offline.list")}
    assert len(app("event.offline.list")) == (4 if strict else 2)
    missing = app.raw("event.offline.clear")
    assert missing["error"] == "ERROR_ARGUMENT"


def test_errors_are_set_aside(app: App, portal: Portal) -> None:
    app("event.bind", event="ONCRMDEALADD", event_type="offline")
    portal.install_app(CLIENT)
    _deal(portal)
    _deal(portal)
    got = app("event.offline.get", clear=0)
    bad = got["events"][0]["MESSAGE_ID"]
    assert app("event.offline.error", process_id=got["process_id"], message_id=[bad]) is True
    assert app("event.offline.get", clear=0, process_id=got["process_id"])["events"] == [
        got["events"][1]
    ]
    errors = app("event.offline.get", error=1)["events"]
    assert [e["MESSAGE_ID"] for e in errors] == [bad]
    assert [r["ERROR"] for r in app("event.offline.list", filter={"ERROR": 1})] == []


def test_filter_order_and_limit(app: App, portal: Portal) -> None:
    app("event.bind", event="ONCRMDEALADD", event_type="offline")
    portal.install_app(CLIENT)
    for _ in range(4):
        _deal(portal)
    got = app("event.offline.get", clear=0, filter={">ID": 1}, order={"ID": "DESC"}, limit=2)
    assert [e["ID"] for e in got["events"]] == ["4", "3"]


def test_auth_connector_keeps_own_changes_out(app: App, portal: Portal) -> None:
    app("event.bind", event="ONCRMDEALUPDATE", event_type="offline", auth_connector="kopilka")
    portal.install_app(CLIENT)
    deal = _deal(portal)
    app("crm.deal.update", id=deal, fields={"TITLE": "own"}, auth_connector="kopilka")
    assert app("event.offline.list", auth_connector="kopilka") == []
    assert app("event.offline.list") == []  # another connector's queue is another queue
    portal.call("crm.deal.update", {"id": deal, "fields": {"TITLE": "theirs"}})
    assert len(app("event.offline.get", auth_connector="kopilka")["events"]) == 1


def test_onofflineevent_signals_within_min_timeout(
    app: App, portal: Portal, receiver: Receiver
) -> None:
    app("event.bind", event="ONCRMDEALADD", event_type="offline")
    app("event.bind", event="ONOFFLINEEVENT", handler=receiver.url, options={"minTimeout": 3600})
    portal.install_app(CLIENT)
    _deal(portal)
    _deal(portal)
    assert portal.wait_events_idle(5)
    assert [p["event"] for p in receiver.posts] == ["ONOFFLINEEVENT"]
    auth = receiver.posts[0]["auth"]
    assert auth["refresh_token"]
    assert auth["application_token"]
    assert "data" not in receiver.posts[0]  # empty data (§6.7)


def test_onofflineevent_once_per_hit_with_zero_timeout(
    app: App, portal: Portal, receiver: Receiver
) -> None:
    app("event.bind", event="ONCRMDEALADD", event_type="offline")
    app("event.bind", event="ONOFFLINEEVENT", handler=receiver.url, options={"minTimeout": 0})
    portal.install_app(CLIENT)
    app("batch", cmd={"a": "crm.deal.add?fields[TITLE]=a", "b": "crm.deal.add?fields[TITLE]=b"})
    _deal(portal)
    assert portal.wait_events_idle(5)
    assert [p["event"] for p in receiver.posts] == ["ONOFFLINEEVENT"] * 2


def test_feature_get_and_plans_without_the_extended_mode(app: App, portal: Portal) -> None:
    assert app("feature.get", CODE="rest_offline_extended") == {"value": "Y"}
    assert app.raw("feature.get")["error"] == "CODE_EMPTY"
    portal.events.offline.features["rest_offline_extended"] = "N"
    assert app("feature.get", CODE="rest_offline_extended") == {"value": "N"}
    assert app.raw("event.offline.get", clear=0)["error"] == "ACCESS_DENIED"
    assert app("event.offline.get")["events"] == []


def test_uninstall_drops_the_queue(app: App, portal: Portal) -> None:
    app("event.bind", event="ONCRMDEALADD", event_type="offline")
    portal.install_app(CLIENT)
    _deal(portal)
    assert len(portal.events.offline.records) == 1
    portal.uninstall_app(CLIENT)
    assert portal.events.offline.records == {}
