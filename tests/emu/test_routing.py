"""URL forms, HTTP verbs, envelopes and auth errors (§1, §2, §15)."""

from __future__ import annotations

import httpx

from b24emu import EmuServer, Portal


def test_webhook_url_forms_and_verbs(portal: Portal, hook: str, http: httpx.Client) -> None:
    added = http.post(hook + "crm.contact.add.json", data={"fields[NAME]": "Анна"})
    assert added.status_code == 200
    assert added.headers["content-type"].startswith("application/json")
    assert added.json()["result"] == 1
    for url in (hook + "crm.contact.get", hook + "CRM.Contact.Get.json", hook + "crm.contact.get/"):
        got = http.get(url, params={"ID": 1})
        assert got.status_code == 200, url
        assert got.json()["result"]["NAME"] == "Анна"
    body = http.post(hook + "crm.contact.get", json={"id": 1}).json()
    assert body["result"]["ID"] == "1"
    assert set(body["time"]) >= {
        "start",
        "finish",
        "duration",
        "processing",
        "date_start",
        "date_finish",
        "operating",
        "operating_reset_at",
    }
    assert body["time"]["date_start"].endswith("+03:00")


def test_oauth_url_form_accepts_auth_access_token_and_bearer(
    server: EmuServer, portal: Portal, http: httpx.Client
) -> None:
    portal.register_app("local.abc", "s3cr3t", scopes=("crm",))
    token = portal.issue_tokens("local.abc")["access_token"]
    url = server.url + "/rest/crm.deal.fields"
    assert http.get(url, params={"auth": token}).status_code == 200
    assert http.post(url, data={"access_token": token}).status_code == 200
    assert http.post(url + ".json", json={"auth": token}).status_code == 200
    assert http.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    missing = http.get(url)
    assert (missing.status_code, missing.json()) == (
        401,
        {"error": "NO_AUTH_FOUND", "error_description": "Wrong authorization data"},
    )
    bad = http.get(url, params={"auth": "nope"})
    assert (bad.status_code, bad.json()["error"]) == (401, "invalid_token")
    portal.register_app("local.im", "s", scopes=("im",))
    im_token = portal.issue_tokens("local.im")["access_token"]
    scope = http.get(url, params={"auth": im_token})
    assert (scope.status_code, scope.json()["error"]) == (403, "insufficient_scope")


def test_unknown_method_is_404_before_auth(server: EmuServer, http: httpx.Client) -> None:
    response = http.get(server.url + "/rest/crm.deal.nope")
    assert response.status_code == 404
    assert response.json() == {
        "error": "ERROR_METHOD_NOT_FOUND",
        "error_description": "Method not found!",
    }


def test_webhook_credentials_and_scope(
    portal: Portal, server: EmuServer, http: httpx.Client
) -> None:
    hook = portal.add_webhook(user_id=1, scopes=("im",))
    wrong = http.get(server.url + "/rest/1/wrongcode/crm.deal.list")
    assert (wrong.status_code, wrong.json()["error"]) == (403, "INVALID_CREDENTIALS")
    other_user = hook.replace("/rest/1/", "/rest/2/")
    assert http.get(other_user + "crm.deal.list").json()["error"] == "INVALID_CREDENTIALS"
    denied = http.get(hook + "crm.deal.list")
    assert denied.status_code == 403
    assert denied.json() == {
        "error": "insufficient_scope",
        "error_description": "The request requires higher privileges than provided by the "
        "webhook token",
    }


def test_legacy_not_found_and_invalid_id(hook: str, http: httpx.Client) -> None:
    missing = http.get(hook + "crm.deal.get", params={"id": 999})
    assert missing.status_code == 400
    assert missing.json() == {"error": "", "error_description": "Not found"}
    invalid = http.get(hook + "crm.deal.get", params={"id": "abc"})
    assert invalid.json() == {"error": "", "error_description": "ID is not defined or invalid."}
    update = http.post(hook + "crm.contact.update", json={"id": 5, "fields": {"NAME": "x"}})
    assert update.json() == {"error": "", "error_description": "Contact is not found"}
    no_fields = http.post(hook + "crm.deal.add", json={"fields": "x"})
    assert no_fields.json()["error_description"] == "Parameter 'fields' must be array."
    assert "time" not in no_fields.json()


def test_json_is_php_encoded(portal: Portal, hook: str, http: httpx.Client) -> None:
    portal.call("crm.contact.add", {"fields": {"NAME": "a/b <c> & 'd'"}})
    raw = http.get(hook + "crm.contact.get", params={"id": 1}).content
    assert b"a\\/b \\u003Cc\\u003E \\u0026 \\u0027d\\u0027" in raw
