"""The portal's UI in real Chromium: an admin installs a local app in its installer frame
(``BX24.installFinish()`` through the stub library's cross-origin messages), the portal then
opens the app page; a manager opens the contact tab and the frame gets their token, the
placement and a resize; ``BX24.openPath`` navigates the portal page."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from b24emu import EmuServer, Portal
from tests.browser.conftest import ARGS, _chromium_or_skip
from tests.emu.frameapp import CLIENT, FrameApp, app_fixture  # noqa: F401 - the fixture

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def page() -> AsyncIterator[Any]:
    executable = _chromium_or_skip()
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=executable, args=ARGS, headless=True)
        try:
            yield await browser.new_page(viewport={"width": 1280, "height": 800})
        finally:
            await browser.close()


async def frame_ready(page: Any) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """The app frame once BX24.init ran: the frame, what it was posted, what BX24 reports."""
    handle = await page.wait_for_selector("iframe#app-frame")
    frame = await handle.content_frame()
    shown = "(function (e) { return e !== null && e.textContent !== '…'; })"
    await frame.wait_for_function(shown + "(document.getElementById('bx24'))")
    posted = json.loads(await frame.inner_text("#posted"))
    reported = json.loads(await frame.inner_text("#bx24"))
    return frame, posted, reported


async def test_install_then_a_tab_in_chromium(
    page: Any, app: FrameApp, server: EmuServer, portal: Portal
) -> None:
    await page.goto(f"{server.url}/portal/apps/{CLIENT}/install?as=1")
    frame, posted, reported = await frame_ready(page)
    assert posted["path"] == "/install"
    assert reported["placement"] == {"placement": "DEFAULT", "options": {}}
    assert reported["admin"] is True
    assert reported["auth"]["access_token"] == posted["form"]["AUTH_ID"]
    assert reported["auth"]["member_id"] == portal.member_id
    assert (reported["lang"], reported["domain"]) == ("ru", portal.domain)
    assert portal.auth.apps[CLIENT].installed is False
    await frame.click("#finish")
    await page.wait_for_url(f"**/portal/apps/{CLIENT}/?as=1")
    frame, posted, reported = await frame_ready(page)
    assert posted["path"] == "/app"
    assert portal.auth.apps[CLIENT].installed is True

    await page.goto(f"{server.url}/portal/crm/contact/details/1/?as=2")
    assert await page.inner_text("#tab-CRM_CONTACT_DETAIL_TAB") == "Бонусы"
    await page.click("#tab-CRM_CONTACT_DETAIL_TAB")
    frame, posted, reported = await frame_ready(page)
    assert posted["path"] == "/tab"
    assert await frame.inner_text("#user-name") == "Мария Соколова"
    assert reported["admin"] is False
    assert reported["placement"]["placement"] == "CRM_CONTACT_DETAIL_TAB"
    assert reported["placement"]["options"]["ID"] == "1"
    assert reported["auth"]["access_token"] == posted["form"]["AUTH_ID"]
    await page.wait_for_function("document.getElementById('app-frame').style.height === '321px'")
    assert json.loads(await frame.get_attribute("body", "data-resized"))["height"] == 321
    commands = await page.get_attribute("#app-frame", "data-commands")
    assert commands.split() == ["getInitData", "resizeWindow"]
    # BX24.callMethod from the frame: the portal's REST as the frame's user.
    await frame.wait_for_selector("body[data-rest]", state="attached")
    me = json.loads(await frame.get_attribute("body", "data-rest"))
    assert (me["ID"], me["NAME"]) == ("2", "Мария")

    portal.call("crm.deal.add", {"fields": {"TITLE": "Заказ Марии"}})
    await frame.click("#to-deal")
    await page.wait_for_url("**/portal/crm/deal/details/1/?as=2&from=rest_placement")
    assert await page.inner_text("#card-title") == "Заказ Марии"


async def test_frame_ignores_foreign_messages(
    page: Any, app: FrameApp, server: EmuServer, portal: Portal
) -> None:
    """Only the frame's own messages with its APP_SID act: a forged installFinish from the
    portal page itself, or one with another APP_SID, installs nothing."""
    await page.goto(f"{server.url}/portal/apps/{CLIENT}/install?as=1")
    frame, _posted, _reported = await frame_ready(page)
    await page.evaluate("window.postMessage('setInstallFinish:{}::' + 'x', '*')")
    await frame.evaluate("window.parent.postMessage('setInstallFinish:{}::wrong-sid', '*')")
    # A round trip after them (messages keep their order): they were seen and ignored.
    await frame.evaluate("new Promise(function (done) { BX24.resizeWindow(500, 400, done); })")
    commands = await page.get_attribute("#app-frame", "data-commands")
    assert commands.split() == ["getInitData", "resizeWindow", "resizeWindow"]
    assert portal.auth.apps[CLIENT].installed is False
