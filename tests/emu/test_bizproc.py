"""Automation in the emulator (§11): registering robots and activities, the portal's POST to the
handler, ``bizproc.event.send`` answered once, ``bizproc.activity.log``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from b24emu import EmuServer, Portal
from tests.emu.conftest import Receiver

CLIENT, SECRET = "local.robots.1", "robots-secret"


def robot(handler: str, **more: Any) -> dict[str, Any]:
    return {
        "CODE": "accrue",
        "HANDLER": handler,
        "NAME": {"ru": "Начислить бонусы", "en": "Accrue bonus points"},
        "USE_SUBSCRIPTION": "Y",
        "PROPERTIES": {
            "amount": {"Name": {"ru": "Сумма"}, "Type": "double", "Required": "Y"},
            "reason": {"Name": "Reason", "Type": "string", "Default": "review"},
        },
        "RETURN_PROPERTIES": {"balance": {"Name": "Balance", "Type": "double"}},
        "FILTER": {"INCLUDE": [["crm", "CCrmDocumentDeal"]]},
        **more,
    }


@pytest.fixture
def token(portal: Portal, server: EmuServer) -> str:
    portal.register_app(CLIENT, SECRET, scopes=("crm", "bizproc"))
    portal.install_app(CLIENT)
    return str(portal.issue_tokens(CLIENT)["access_token"])


def rest(http: httpx.Client, server: EmuServer, method: str, token: str, **params: Any) -> Any:
    return http.post(f"{server.url}/rest/{method}", json={"auth": token, **params}).json()


#: every documented refusal of a bad registration (reference §11.1), one request each
INVALID = [
    ({"CODE": ""}, "Empty activity code!"),
    ({"CODE": "bad code!"}, "Wrong activity code!"),
    ({"NAME": ""}, "Empty activity NAME!"),
    ({"PROPERTIES": {"1st": {"Name": "x"}}}, "Wrong property key 1st!"),
    ({"PROPERTIES": {"amount": {"Type": "double"}}}, "Empty property NAME amount!"),
    ({"RETURN_PROPERTIES": "balance"}, "Wrong properties array!"),
    ({"FILTER": {"ONLY": ["b24"]}}, "Wrong activity FILTER!"),
    ({"DOCUMENT_TYPE": ["crm", "DEAL"]}, "Wrong activity DOCUMENT_TYPE!"),
]


def test_add_validates_as_documented(
    portal: Portal, http: httpx.Client, server: EmuServer, token: str
) -> None:
    for change, description in INVALID:
        fields = robot("https://k.example/r", **change)
        for kind in ("robot", "activity"):
            answer = rest(http, server, f"bizproc.{kind}.add", token, **fields)
            assert answer["error"] == "ERROR_ACTIVITY_VALIDATION_FAILURE", (kind, change)
            assert answer["error_description"] == description, (kind, change)
    assert portal.robots == {}
    assert portal.bp_activities == {}


def test_register_list_update_delete(
    portal: Portal, http: httpx.Client, server: EmuServer, token: str, hook: str
) -> None:
    url = "https://k.example/robot"
    bad = rest(http, server, "bizproc.robot.add", token, **robot("ftp://k.example/r"))
    assert bad["error"] == "ERROR_UNSUPPORTED_PROTOCOL"
    assert rest(http, server, "bizproc.robot.add", token, **robot(url))["result"] is True
    again = rest(http, server, "bizproc.robot.add", token, **robot(url))
    assert again["error"] == "ERROR_ACTIVITY_ALREADY_INSTALLED"
    same_code = rest(http, server, "bizproc.activity.add", token, **robot(url))
    assert same_code["error"] == "ERROR_ACTIVITY_ADD_FAILURE"
    activity = robot(url, CODE="accrue_bp", FILTER={})
    assert rest(http, server, "bizproc.activity.add", token, **activity)["result"] is True
    assert rest(http, server, "bizproc.robot.list", token)["result"] == ["accrue"]
    assert rest(http, server, "bizproc.activity.list", token)["result"] == ["accrue_bp"]
    empty = rest(http, server, "bizproc.robot.update", token, CODE="accrue", FIELDS={})
    assert empty["error_description"] == "No fields to update"
    missing = rest(http, server, "bizproc.robot.update", token, CODE="nope", FIELDS={"NAME": "x"})
    assert missing["error"] == "ERROR_ACTIVITY_NOT_FOUND"
    changed = rest(
        http, server, "bizproc.robot.update", token, CODE="accrue", FIELDS={"HANDLER": url + "2"}
    )
    assert changed["result"] is True
    assert portal.robots[f"{CLIENT}:accrue"]["HANDLER"] == url + "2"
    assert portal.robots[f"{CLIENT}:accrue"]["NAME"]["ru"] == "Начислить бонусы"
    # a manager's token is not an administrator's; a webhook is no application
    manager = str(portal.issue_tokens(CLIENT, user_id=2)["access_token"])
    denied = http.post(
        f"{server.url}/rest/bizproc.robot.list", json={"auth": manager}
    )  # fmt: skip
    assert (denied.status_code, denied.json()["error"]) == (403, "ACCESS_DENIED")
    for name in ("bizproc.robot.add", "bizproc.activity.list", "bizproc.robot.delete"):
        refused = http.post(hook + name, json=robot(url))
        assert refused.json()["error"] == "WRONG_AUTH_TYPE", name
    assert rest(http, server, "bizproc.robot.delete", token, CODE="accrue")["result"] is True
    gone = rest(http, server, "bizproc.robot.delete", token, CODE="accrue")
    assert gone["error"] == "ERROR_ACTIVITY_NOT_FOUND"


def test_run_posts_the_handler_form_and_takes_one_answer(
    portal: Portal, http: httpx.Client, server: EmuServer, token: str, receiver: Receiver
) -> None:
    assert rest(http, server, "bizproc.robot.add", token, **robot(receiver.url))["result"]
    deal = portal.call("crm.deal.add", {"fields": {"TITLE": "Заказ"}})["result"]
    event_token = portal.run_robot("accrue", f"DEAL_{deal}", {"amount": 1500}, user_id=2)
    assert portal.wait_robot_delivered(event_token)
    assert receiver.raw[0][0] == "application/x-www-form-urlencoded"
    form = receiver.posts[0]
    assert form["event_token"] == event_token
    assert form["code"] == "accrue"
    assert form["document_id"] == ["crm", "CCrmDocumentDeal", f"DEAL_{deal}"]
    assert form["document_type"] == ["crm", "CCrmDocumentDeal", "DEAL"]
    assert form["properties"] == {"amount": "1500", "reason": "review"}
    assert form["use_subscription"] == "Y"
    auth = form["auth"]
    app = portal.auth.apps[CLIENT]
    assert auth["application_token"] == app.application_token
    assert auth["user_id"] == "2"
    assert auth["member_id"] == portal.member_id
    assert auth["refresh_token"] in portal.auth.refresh
    workflow, activity, _tail = event_token.split("|")
    assert form["workflow_id"] == workflow
    assert activity.startswith("A")
    # the handler's own token answers; a forged token is refused; the answer is taken once
    handler_token = auth["access_token"]
    forged = rest(http, server, "bizproc.event.send", handler_token, EVENT_TOKEN=event_token + "0")
    assert forged["error"] == "ACCESS_DENIED"
    logged = rest(
        http, server, "bizproc.activity.log", token, EVENT_TOKEN=event_token, LOG_MESSAGE="ждём"
    )
    assert logged["result"] is True
    sent = rest(
        http,
        server,
        "bizproc.event.send",
        handler_token,
        event_token=event_token,
        return_values={"balance": 2350},
        log_message="Начислено 150",
    )
    assert sent["result"] is True
    assert portal.wait_robot(event_token) == {
        "RETURN_VALUES": {"balance": 2350},
        "LOG_MESSAGE": "Начислено 150",
    }
    assert portal.robot_calls[event_token].log == ["ждём", "Начислено 150"]
    twice = http.post(
        f"{server.url}/rest/bizproc.event.send",
        json={"auth": handler_token, "EVENT_TOKEN": event_token, "RETURN_VALUES": {}},
    )
    assert (twice.status_code, twice.json()["error"]) == (403, "ACCESS_DENIED")
    # the queue server posting the same call again: the same form, the same token
    portal.redeliver_robot(event_token)
    assert portal.wait_robot_delivered(event_token, count=2)
    assert receiver.posts[1]["event_token"] == event_token


def test_where_robots_and_activities_run(
    portal: Portal, http: httpx.Client, server: EmuServer, token: str, receiver: Receiver
) -> None:
    rest(http, server, "bizproc.robot.add", token, **robot(receiver.url))
    contact_filter = {"INCLUDE": [["crm", "CCrmDocumentContact"]]}
    rest(
        http,
        server,
        "bizproc.activity.add",
        token,
        **robot(receiver.url, CODE="card_bp", FILTER=contact_filter, USE_SUBSCRIPTION="N"),
    )
    contact = portal.call("crm.contact.add", {"fields": {"NAME": "Анна"}})["result"]
    deal = portal.call("crm.deal.add", {"fields": {"TITLE": "Заказ"}})["result"]
    with pytest.raises(ValueError, match="robots do not run on CONTACT"):
        portal.run_robot("accrue", f"CONTACT_{contact}")
    with pytest.raises(ValueError, match="FILTER"):
        portal.run_activity("card_bp", f"DEAL_{deal}")
    with pytest.raises(ValueError, match="not in the portal"):
        portal.run_robot("accrue", "DEAL_999")
    with pytest.raises(ValueError, match="declares no properties"):
        portal.run_robot("accrue", f"DEAL_{deal}", {"colour": "red"})
    event_token = portal.run_activity("card_bp", f"CONTACT_{contact}", {"amount": 1})
    assert portal.wait_robot_delivered(event_token)
    assert receiver.posts[0]["document_type"] == ["crm", "CCrmDocumentContact", "CONTACT"]
    assert receiver.posts[0]["use_subscription"] == "N"
    # nothing waits for an unsubscribed call: an answer to it is refused
    handler_token = receiver.posts[0]["auth"]["access_token"]
    answer = rest(http, server, "bizproc.event.send", handler_token, EVENT_TOKEN=event_token)
    assert answer["error"] == "ACCESS_DENIED"
    # nor for a call of a robot deleted since
    deal_call = portal.run_robot("accrue", f"DEAL_{deal}", {"amount": 1})
    rest(http, server, "bizproc.robot.delete", token, CODE="accrue")
    answer = rest(http, server, "bizproc.event.send", handler_token, EVENT_TOKEN=deal_call)
    assert answer["error"] == "ACCESS_DENIED"


def test_uninstalling_the_app_removes_its_robots_and_activities(
    portal: Portal, http: httpx.Client, server: EmuServer, token: str
) -> None:
    rest(http, server, "bizproc.robot.add", token, **robot("https://k.example/r"))
    rest(http, server, "bizproc.activity.add", token, **robot("https://k.example/r", CODE="bp"))
    portal.uninstall_app(CLIENT)
    assert portal.robots == {}
    assert portal.bp_activities == {}
