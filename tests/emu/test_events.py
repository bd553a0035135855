"""Outbound events (§6): form POSTs from a background sender, at most once, with faults."""

from __future__ import annotations

import time

import httpx
import pytest

from b24emu import EmuServer, Faults, Portal

from .conftest import Receiver

CLIENT, SECRET = "local.events.app", "secret"


def _bind(
    portal: Portal,
    server: EmuServer,
    http: httpx.Client,
    url: str,
    events: tuple[str, ...] = ("ONCRMDEALUPDATE", "ONCRMDEALADD"),
) -> str:
    app = portal.register_app(CLIENT, SECRET, scopes=("crm",))
    token = portal.issue_tokens(CLIENT)["access_token"]
    not_yet = http.post(
        server.url + "/rest/event.bind", json={"auth": token, "event": events[0], "handler": url}
    )
    assert not_yet.json()["result"] is True
    for event in events[1:]:
        http.post(
            server.url + "/rest/event.bind", json={"auth": token, "event": event, "handler": url}
        )
    portal.install_app(CLIENT)
    return app.application_token


def test_app_events_are_forms_with_user_tokens(
    portal: Portal, server: EmuServer, http: httpx.Client, receiver: Receiver
) -> None:
    app_token = _bind(portal, server, http, receiver.url)
    bindings = http.post(
        server.url + "/rest/event.get", json={"auth": portal.issue_tokens(CLIENT)["access_token"]}
    ).json()["result"]
    assert bindings[0] == {
        "event": "ONCRMDEALUPDATE",
        "handler": receiver.url,
        "auth_type": "0",
        "offline": 0,
    }
    deal_id = portal.call("crm.deal.add", {"fields": {"TITLE": "x"}})["result"]
    portal.call("crm.deal.update", {"id": deal_id, "fields": {"STAGE_ID": "WON"}})
    assert portal.wait_events_idle(5)
    assert [p["event"] for p in receiver.posts] == ["ONCRMDEALADD", "ONCRMDEALUPDATE"]
    content_type, _ = receiver.raw[0]
    assert content_type == "application/x-www-form-urlencoded"
    pairs = dict(receiver.pairs(1))
    assert pairs["data[FIELDS][ID]"] == str(deal_id)
    assert pairs["event_handler_id"] == "1"
    assert int(pairs["ts"]) >= int(time.time()) - 5
    assert pairs["auth[application_token]"] == app_token
    assert pairs["auth[member_id]"] == "emu-member-1"
    assert pairs["auth[user_id]"] == "1"
    assert "auth[refresh_token]" not in pairs
    user_token = pairs["auth[access_token]"]
    me = http.post(pairs["auth[client_endpoint]"] + "profile", json={"auth": user_token})
    assert me.json()["result"]["ADMIN"] is True
    assert portal.stats.events_sent == 2
    # a robot's change carries no tokens
    portal.call("crm.deal.update", {"id": deal_id, "fields": {"TITLE": "y"}}, automation=True)
    assert portal.wait_events_idle(5)
    assert "access_token" not in receiver.posts[-1]["auth"]
    assert receiver.posts[-1]["auth"]["application_token"] == app_token


def test_outgoing_webhook_and_one_event_per_hit(
    portal: Portal, hook: str, http: httpx.Client, receiver: Receiver
) -> None:
    token = portal.add_outgoing_webhook(
        receiver.url, events=("ONCRMDEALUPDATE", "ONCRMDEALADD", "ONCRMDEALDELETE")
    )
    deal_id = portal.call("crm.deal.add", {"fields": {}})["result"]
    http.post(
        hook + "batch",
        json={
            "cmd": {
                "a": f"crm.deal.update?id={deal_id}&fields[TITLE]=1",
                "b": f"crm.deal.update?id={deal_id}&fields[TITLE]=2",
                "c": f"crm.deal.productrows.set?id={deal_id}&rows[0][PRICE]=5",
            }
        },
    )
    http.post(hook + "crm.deal.delete", json={"id": deal_id})
    assert portal.wait_events_idle(5)
    assert [p["event"] for p in receiver.posts] == [
        "ONCRMDEALADD",
        "ONCRMDEALUPDATE",
        "ONCRMDEALDELETE",
    ]
    assert receiver.posts[1]["auth"] == {
        "domain": "emu.bitrix24.test",
        "client_endpoint": portal.client_endpoint,
        "server_endpoint": portal.server_endpoint,
        "member_id": "emu-member-1",
        "application_token": token,
    }


def test_faults_drop_duplicate_and_failed_posts(portal: Portal, receiver: Receiver) -> None:
    portal.add_outgoing_webhook(receiver.url, events=("ONCRMCONTACTADD",))
    portal.faults = Faults(drop_events=1.0)
    portal.call("crm.contact.add", {"fields": {"NAME": "lost"}})
    assert portal.wait_events_idle(5)
    assert receiver.posts == []
    assert portal.stats.events_dropped == 1
    portal.faults = Faults(duplicate_events=1.0)
    portal.call("crm.contact.add", {"fields": {"NAME": "twice"}})
    assert portal.wait_events_idle(5)
    assert [p["data"]["FIELDS"]["ID"] for p in receiver.posts] == ["2", "2"]
    assert portal.stats.events_duplicated == 1
    portal.faults = Faults()
    receiver.status = 500
    portal.call("crm.contact.add", {"fields": {"NAME": "refused"}})
    assert portal.wait_events_idle(5)
    assert len(receiver.posts) == 3  # one attempt, no retry
    assert portal.stats.events_failed == 1
    portal.stats.reset()
    assert portal.stats.events_sent == 0


def test_faults_reorder_and_delay(portal: Portal, receiver: Receiver) -> None:
    portal.add_outgoing_webhook(receiver.url, events=("ONCRMCONTACTADD",))
    portal.faults = Faults(reorder_events=True, seed=7)
    for index in range(20):
        portal.call("crm.contact.add", {"fields": {"NAME": f"c{index}"}})
    assert portal.wait_events_idle(5)
    ids = [int(p["data"]["FIELDS"]["ID"]) for p in receiver.posts]
    assert sorted(ids) == list(range(1, 21))
    assert ids != sorted(ids)
    portal.faults = Faults(delay_events=0.5)
    portal.call("crm.contact.add", {"fields": {"NAME": "late"}})
    time.sleep(0.25)
    assert len(receiver.posts) == 20
    assert portal.wait_events_idle(5)
    assert len(receiver.posts) == 21


def test_error_500_and_slow_answers(portal: Portal, hook: str, http: httpx.Client) -> None:
    portal.faults = Faults(error_500_rate=1.0)
    failed = http.post(hook + "crm.deal.add", json={"fields": {}})
    assert failed.status_code == 500
    assert failed.json() == {
        "error": "INTERNAL_SERVER_ERROR",
        "error_description": "Internal server error",
    }
    assert portal.deals == {}
    assert portal.stats.errors_500 == 1
    portal.faults = Faults(slow_seconds=0.3)
    began = time.monotonic()
    assert http.get(hook + "crm.deal.fields").status_code == 200
    assert time.monotonic() - began >= 0.3


async def test_flush_events_from_async_code(portal: Portal, receiver: Receiver) -> None:
    portal.add_outgoing_webhook(receiver.url, events=("ONCRMDEALADD",))
    portal.call("crm.deal.add", {"fields": {}})
    assert await portal.flush_events()
    assert len(receiver.posts) == 1


@pytest.mark.parametrize("url", ["ftp://x.example/h", "http://localhost/h"])
def test_bind_refuses_bad_handler_urls(
    portal: Portal, server: EmuServer, http: httpx.Client, url: str
) -> None:
    portal.register_app(CLIENT, SECRET, scopes=("crm",))
    token = portal.issue_tokens(CLIENT)["access_token"]
    answer = http.post(
        server.url + "/rest/event.bind",
        json={"auth": token, "event": "ONCRMDEALADD", "handler": url},
    ).json()
    assert answer["error"] in ("ERROR_UNSUPPORTED_PROTOCOL", "ERROR_WRONG_HANDLER_URL")
