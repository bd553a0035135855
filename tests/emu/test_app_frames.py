"""App frames over plain HTTP: the installer frame's POST (§1.2.4), nothing installed before
``installFinish`` (no tab, no events, ``app.info`` INSTALLED false), a CRM tab's POST (§12.2)
with the acting user's token, and the portal's strict readings."""

from __future__ import annotations

import json
import re
from html import unescape
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from b24emu import EmuServer, Portal
from tests.emu.frameapp import CLIENT, FrameApp, app_fixture  # noqa: F401 - the fixture


def frame_of(html: str) -> tuple[str, dict[str, str], str]:
    """The hidden form the portal page posts into the iframe: action, fields, frame name."""
    action = re.search(r'<form id="app-form" method="post" action="([^"]+)"', html)
    name = re.search(r'<iframe id="app-frame" name="([^"]+)"', html)
    assert action is not None, html
    assert name is not None, html
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html))
    return unescape(action.group(1)), {k: unescape(v) for k, v in fields.items()}, name.group(1)


def post_frame(http: httpx.Client, html: str) -> tuple[str, dict[str, str]]:
    """What the browser does with the page's form; returns the APP_SID and the fields."""
    action, fields, _name = frame_of(html)
    assert http.post(action, data=fields).status_code == 200
    return dict(parse_qsl(urlsplit(action).query))["APP_SID"], fields


def rest(http: httpx.Client, server: EmuServer, method: str, token: str) -> Any:
    return http.post(f"{server.url}/rest/{method}", data={"auth": token}).json()


def test_installer_until_install_finish(
    app: FrameApp, server: EmuServer, portal: Portal, http: httpx.Client
) -> None:
    page = http.get(f"{server.url}/portal/apps/{CLIENT}/install?as=1")
    assert page.status_code == 200
    sid, _fields = post_frame(http, page.text)
    posted = app.posts[-1]
    assert posted["path"] == "/install"
    assert posted["query"] == {
        "DOMAIN": portal.domain,
        "PROTOCOL": "0",
        "LANG": "ru",
        "APP_SID": sid,
    }
    form = posted["form"]
    assert set(form) == {
        "AUTH_ID", "AUTH_EXPIRES", "REFRESH_ID", "SERVER_ENDPOINT", "APPLICATION_TOKEN",
        "APPLICATION_SCOPE", "member_id", "status", "PLACEMENT", "PLACEMENT_OPTIONS",
    }  # fmt: skip
    app_record = portal.auth.apps[CLIENT]
    assert form["APPLICATION_TOKEN"] == app_record.application_token
    assert form["member_id"] == portal.member_id
    assert form["status"] == "L"
    assert form["PLACEMENT"] == "DEFAULT"
    assert form["AUTH_EXPIRES"] == "3600"
    assert form["SERVER_ENDPOINT"] == portal.server_endpoint
    assert form["APPLICATION_SCOPE"] == "crm,placement,user"
    me = rest(http, server, "user.current", form["AUTH_ID"])["result"]
    assert me["ID"] == "1"

    # The installer bound a tab and an event, but nothing is live yet.
    assert rest(http, server, "app.info", form["AUTH_ID"])["result"]["INSTALLED"] is False
    assert portal.placements
    assert portal.events.bindings
    card = http.get(f"{server.url}/portal/crm/contact/details/1/?as=1").text
    assert "tab-CRM_CONTACT_DETAIL_TAB" not in card
    portal.call("crm.contact.update", {"id": 1, "fields": {"NAME": "Аня"}})
    portal.wait_events_idle()
    assert app.events == []
    # A manager (not an admin) gets the notice, not the installer.
    refused = http.get(f"{server.url}/portal/apps/{CLIENT}/?as=2")
    assert refused.status_code == 403
    assert "не установлено полностью" in refused.text

    finished = http.post(f"{server.url}/portal/frames/{sid}/install-finish").json()
    assert finished == {"installed": True, "redirect": f"/portal/apps/{CLIENT}/?as=1"}
    assert rest(http, server, "app.info", form["AUTH_ID"])["result"]["INSTALLED"] is True
    card = http.get(f"{server.url}/portal/crm/contact/details/1/?as=1").text
    assert re.search(r'id="tab-CRM_CONTACT_DETAIL_TAB"[^>]*>Бонусы</a>', card)
    portal.call("crm.contact.update", {"id": 1, "fields": {"NAME": "Анна"}})
    portal.wait_events_idle()
    assert [e["event"] for e in app.events] == ["ONCRMCONTACTUPDATE"]
    # The install page of an installed app goes to the app page.
    again = http.get(f"{server.url}/portal/apps/{CLIENT}/install?as=1", follow_redirects=False)
    assert again.status_code == 303


def test_install_finish_only_from_the_installer(
    app: FrameApp, server: EmuServer, portal: Portal, http: httpx.Client
) -> None:
    portal.auth.apps[CLIENT].installed = True
    sid, _fields = post_frame(http, http.get(f"{server.url}/portal/apps/{CLIENT}/?as=1").text)
    portal.auth.apps[CLIENT].installed = False
    assert http.post(f"{server.url}/portal/frames/{sid}/install-finish").json() == {
        "installed": False
    }
    assert http.post(f"{server.url}/portal/frames/nope/install-finish").json() == {
        "installed": False
    }
    assert portal.auth.apps[CLIENT].installed is False


def install(http: httpx.Client, server: EmuServer) -> None:
    sid, _ = post_frame(http, http.get(f"{server.url}/portal/apps/{CLIENT}/install?as=1").text)
    assert http.post(f"{server.url}/portal/frames/{sid}/install-finish").json()["installed"]


def test_contact_tab_posts_as_the_acting_user(
    app: FrameApp, server: EmuServer, portal: Portal, http: httpx.Client
) -> None:
    install(http, server)
    user = portal.add_user("Олег", "Лебедев")
    assert portal.users[user]["ADMIN"] is False
    card = http.get(f"{server.url}/portal/crm/contact/details/1/?as={user}").text
    assert f'href="/portal/crm/contact/details/1/?as={user}&amp;tab=0"' in card
    page = http.get(f"{server.url}/portal/crm/contact/details/1/?as={user}&tab=0").text
    _action, _fields, name = frame_of(page)
    sid, _fields = post_frame(http, page)
    assert name.endswith(f"|0|{sid}")
    posted = app.posts[-1]
    assert posted["path"] == "/tab"
    form = posted["form"]
    assert form["PLACEMENT"] == "CRM_CONTACT_DETAIL_TAB"
    options = json.loads(form["PLACEMENT_OPTIONS"])
    assert options["ID"] == "1"
    assert options["URI"].startswith("/crm/contact/details/1/")
    me = rest(http, server, "user.current", form["AUTH_ID"])["result"]
    assert (me["ID"], me["NAME"], me["LAST_NAME"]) == (str(user), "Олег", "Лебедев")
    assert rest(http, server, "profile", form["AUTH_ID"])["result"]["ADMIN"] is False

    portal.placement_uri = False
    page = http.get(f"{server.url}/portal/crm/contact/details/1/?as=1&tab=0").text
    post_frame(http, page)
    assert json.loads(app.posts[-1]["form"]["PLACEMENT_OPTIONS"]) == {"ID": "1"}


def test_app_page_and_default_placement_reading(
    app: FrameApp, server: EmuServer, portal: Portal, http: httpx.Client
) -> None:
    install(http, server)
    post_frame(http, http.get(f"{server.url}/portal/apps/{CLIENT}/?as=2").text)
    form = app.posts[-1]["form"]
    assert app.posts[-1]["path"] == "/app"
    assert (form["PLACEMENT"], form["PLACEMENT_OPTIONS"]) == ("DEFAULT", "{}")
    portal.default_placement_fields = False
    post_frame(http, http.get(f"{server.url}/portal/apps/{CLIENT}/?as=2").text)
    assert "PLACEMENT" not in app.posts[-1]["form"]
    assert "PLACEMENT_OPTIONS" not in app.posts[-1]["form"]


def test_cards_show_the_record(server: EmuServer, portal: Portal, http: httpx.Client) -> None:
    contact = portal.call(
        "crm.contact.add",
        {"fields": {"NAME": "Пётр", "PHONE": [{"VALUE": "+79160000001", "VALUE_TYPE": "WORK"}]}},
    )["result"]
    deal = portal.call("crm.deal.add", {"fields": {"TITLE": "Заказ", "CONTACT_IDS": [contact]}})[
        "result"
    ]
    portal.call(
        "crm.deal.productrows.set",
        {"id": deal, "rows": [{"PRODUCT_NAME": "Масло", "PRICE": 900, "QUANTITY": 2}]},
    )
    page = http.get(f"{server.url}/portal/crm/deal/details/{deal}/?as=2").text
    assert 'id="card-title">Заказ<' in page
    assert 'data-stage="NEW"' in page
    assert "Новая" in page
    assert re.search(r'id="deal-amount">1800(\.00)? RUB', page)
    assert f'data-contact-id="{contact}"' in page
    assert re.search(r'<td class="name">Масло</td><td class="price">900(\.00)?</td>', page)
    assert "tab-CRM_DEAL_DETAIL_TAB" not in page
    person = http.get(f"{server.url}/portal/crm/contact/details/{contact}/").text
    assert "+79160000001" in person
    assert http.get(f"{server.url}/portal/crm/deal/details/999/").status_code == 404
    assert http.get(f"{server.url}/portal/crm/contact/details/1/?as=77").status_code == 404
    index = http.get(f"{server.url}/portal/").text
    assert f'/portal/crm/deal/details/{deal}/?as=1"' in index
    script = http.get(f"{server.url}/bx24/api/v1/")
    assert script.headers["content-type"].startswith("application/javascript")
    assert "installFinish" in script.text


def test_uninstall_drops_the_tabs_and_installs_anew(
    app: FrameApp, server: EmuServer, portal: Portal, http: httpx.Client
) -> None:
    install(http, server)
    assert (
        "tab-CRM_CONTACT_DETAIL_TAB" in http.get(f"{server.url}/portal/crm/contact/details/1/").text
    )
    portal.uninstall_app(CLIENT)
    assert portal.placements == []
    assert (
        "tab-CRM_CONTACT_DETAIL_TAB"
        not in http.get(f"{server.url}/portal/crm/contact/details/1/").text
    )
    post_frame(http, http.get(f"{server.url}/portal/apps/{CLIENT}/?as=1").text)
    assert app.posts[-1]["path"] == "/install"  # the admin gets the installer again
