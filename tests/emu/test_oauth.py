"""OAuth (§1.2): token endpoint, expiry, refresh rotation, install callback, app context."""

from __future__ import annotations

import httpx

from b24emu import EmuServer, Portal

from .conftest import Receiver

CLIENT, SECRET = "local.abc123.def456", "s3cr3t"


def test_code_exchange_refresh_rotation_and_expiry(
    portal: Portal, server: EmuServer, http: httpx.Client
) -> None:
    portal.register_app(CLIENT, SECRET, scopes=("crm", "user"))
    code = portal.issue_auth_code(CLIENT)
    token_url = server.url + "/oauth/token/"
    assert portal.oauth_token_url == token_url
    grant = http.get(
        token_url,
        params={
            "grant_type": "authorization_code",
            "client_id": CLIENT,
            "client_secret": SECRET,
            "code": code,
        },
    ).json()
    assert grant["domain"] == "oauth.bitrix.info"  # the auth server, not the portal
    assert grant["client_endpoint"] == server.url + "/rest/"
    assert grant["server_endpoint"] == server.url + "/oauth/rest/"
    assert (grant["member_id"], grant["scope"], grant["status"]) == (
        "emu-member-1",
        "crm,user",
        "L",
    )
    assert (grant["expires_in"], grant["user_id"]) == (3600, 1)
    assert isinstance(grant["expires"], int)
    reused = http.get(
        token_url,
        params={
            "grant_type": "authorization_code",
            "client_id": CLIENT,
            "client_secret": SECRET,
            "code": code,
        },
    )
    assert reused.json()["error"] == "invalid_grant"

    rest = grant["client_endpoint"] + "user.current"
    assert http.post(rest, json={"auth": grant["access_token"]}).json()["result"]["ID"] == "1"
    portal.expire_access_tokens()
    expired = http.post(rest, json={"auth": grant["access_token"]})
    assert expired.status_code == 401
    assert expired.json() == {
        "error": "expired_token",
        "error_description": "The access token provided has expired",
    }

    portal.access_token_ttl = 120.0
    refresh = {
        "grant_type": "refresh_token",
        "client_id": CLIENT,
        "client_secret": SECRET,
        "refresh_token": grant["refresh_token"],
    }
    fresh = http.post(token_url, data=refresh).json()
    assert fresh["refresh_token"] != grant["refresh_token"]
    assert fresh["expires_in"] == 120
    assert http.post(rest, json={"auth": fresh["access_token"]}).status_code == 200
    again = http.post(token_url, data=refresh)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"  # the old refresh token is spent
    wrong = http.post(
        token_url,
        data={**refresh, "client_secret": "nope", "refresh_token": fresh["refresh_token"]},
    )
    assert wrong.json()["error"] == "invalid_client"


def test_install_callback_and_app_context(
    portal: Portal, server: EmuServer, http: httpx.Client, receiver: Receiver, hook: str
) -> None:
    app = portal.register_app(CLIENT, SECRET, scopes=("crm", "placement", "bizproc"))
    posted = portal.install_app(CLIENT, receiver.url)
    assert receiver.raw[0][0] == "application/x-www-form-urlencoded"
    form = receiver.posts[0]
    assert form["event"] == "ONAPPINSTALL"
    assert form["data"] == {"VERSION": "1", "ACTIVE": "Y", "INSTALLED": "Y", "LANGUAGE_ID": "ru"}
    assert form["auth"]["application_token"] == app.application_token
    assert form["auth"]["member_id"] == "emu-member-1"
    assert form["auth"]["client_endpoint"] == server.url + "/rest/"
    assert posted["auth[access_token]"] == form["auth"]["access_token"]
    assert set(form["auth"]) >= {
        "access_token",
        "refresh_token",
        "expires",
        "expires_in",
        "scope",
        "domain",
        "server_endpoint",
        "status",
        "user_id",
    }
    token = form["auth"]["access_token"]
    info = http.get(server.url + "/oauth/rest/app.info", params={"auth": token}).json()["result"]
    assert (info["CODE"], info["INSTALLED"], info["STATUS"]) == (CLIENT, True, "L")
    bound = http.post(
        server.url + "/rest/placement.bind",
        json={
            "auth": token,
            "PLACEMENT": "CRM_CONTACT_DETAIL_TAB",
            "HANDLER": "https://app.example/tab",
            "TITLE": "Бонусы",
        },
    ).json()
    assert bound["result"] is True
    robot = {
        "auth": token,
        "CODE": "accrue",
        "HANDLER": "https://app.example/robot",
        "NAME": {"ru": "Начислить"},
    }
    assert http.post(server.url + "/rest/bizproc.robot.add", json=robot).json()["result"] is True
    twice = http.post(server.url + "/rest/bizproc.robot.add", json=robot).json()
    assert twice["error"] == "ERROR_ACTIVITY_ALREADY_INSTALLED"
    for method in ("event.bind", "placement.bind", "bizproc.robot.add", "event.get"):
        refused = http.post(hook + method, json={"event": "ONCRMDEALADD"})
        assert refused.status_code == 403, method
        assert refused.json()["error"] == "WRONG_AUTH_TYPE"


def test_uninstall_sends_event_without_tokens_and_revokes(
    portal: Portal, server: EmuServer, http: httpx.Client, receiver: Receiver
) -> None:
    app = portal.register_app(CLIENT, SECRET, scopes=("crm",))
    tokens = portal.issue_tokens(CLIENT)
    bound = http.post(
        server.url + "/rest/event.bind",
        json={"auth": tokens["access_token"], "event": "ONAPPUNINSTALL", "handler": receiver.url},
    )
    assert bound.json()["result"] is True
    portal.install_app(CLIENT)
    portal.uninstall_app(CLIENT, clean=True)
    assert portal.wait_events_idle(5)
    form = receiver.posts[0]
    assert (form["event"], form["data"]) == ("ONAPPUNINSTALL", {"LANGUAGE_ID": "ru", "CLEAN": "1"})
    assert form["auth"] == {
        "domain": "emu.bitrix24.test",
        "server_endpoint": portal.server_endpoint,
        "client_endpoint": portal.client_endpoint,
        "member_id": "emu-member-1",
        "application_token": app.application_token,
    }
    gone = http.post(server.url + "/rest/crm.deal.list", json={"auth": tokens["access_token"]})
    assert gone.json()["error"] == "invalid_token"
    refresh = http.post(
        portal.oauth_token_url,
        data={
            "grant_type": "refresh_token",
            "client_id": CLIENT,
            "client_secret": SECRET,
            "refresh_token": tokens["refresh_token"],
        },
    )
    assert refresh.json()["error"] == "invalid_grant"
