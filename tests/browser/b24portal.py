"""Kopilka inside the emulated portal's UI, in real Chromium (issue 17).

A whole Kopilka in app mode on b24emu (``kopilka_on_emulator(..., app=True)``: the portal
installed the app, Kopilka bound its placements at provisioning, and its pages load BX24 from
the emulator's stub), and a Chromium page at desktop size whose relative URLs are the portal's.
Tests take the ``b24`` fixture and open Kopilka's frames the way a manager does:

    async def test_x(b24: PortalUI) -> None:
        anna = b24.stack.add_contact("Анна")
        frame = await open_card(b24.page, "contact", anna, as_user=2)
        assert "Мария Соколова" in await frame.inner_text("body")
        await b24.shot("contact-tab")

``open_card`` clicks the record's «Бонусы» tab (the portal POSTs the §12.2 form into the
iframe with the acting user's tokens); ``open_app`` opens the app page (``DEFAULT``). Both
return the iframe's :class:`~playwright.async_api.Frame` once Kopilka's page has loaded and its
BX24 library has been answered by the portal page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.b24harness import Harness, kopilka_on_emulator
from tests.browser.conftest import SHOTS

DESKTOP = {"width": 1280, "height": 800}
TABS = {"contact": "CRM_CONTACT_DETAIL_TAB", "deal": "CRM_DEAL_DETAIL_TAB"}


@dataclass
class PortalUI:
    """The running Kopilka (``stack``: portal, server, services, ``web_url``) and the page."""

    stack: Harness
    page: Any

    @property
    def portal_url(self) -> str:
        return self.stack.server.url

    async def shot(self, name: str) -> Path:
        """A desktop-size screenshot of the whole portal page into ``var/screenshots/``."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path


async def loaded_frame(page: Any, path: str) -> Any:
    """The portal page's app iframe once Kopilka's page at ``path`` has loaded in it and its
    BX24 library got the frame's data from the portal page (``getInitData`` answered)."""
    handle = await page.wait_for_selector("iframe#app-frame", state="attached")
    frame = await handle.content_frame()
    assert frame is not None
    await frame.wait_for_url(f"**{path}*")
    await frame.wait_for_load_state("load")
    await page.wait_for_selector('#app-frame[data-commands*="getInitData"]', state="attached")
    return frame


async def open_card(page: Any, kind: str, entity_id: int, as_user: int = 1) -> Any:
    """Open a contact's or a deal's card as ``as_user`` and its «Бонусы» tab; the tab's frame."""
    await page.goto(f"/portal/crm/{kind}/details/{entity_id}/?as={as_user}")
    await page.click(f"#tab-{TABS[kind]}")
    return await loaded_frame(page, f"/b24/app/{kind}")


async def open_app(page: Any, as_user: int = 1) -> Any:
    """Open Kopilka's app page (the portal's left-menu entry) as ``as_user``; its frame."""
    from kopilka.process.devstack import APP_ID

    await page.goto(f"/portal/apps/{APP_ID}/?as={as_user}")
    return await loaded_frame(page, "/b24/app")


@pytest.fixture(name="b24")
async def b24_fixture(
    committed_engine: AsyncEngine, browser: Any, request: pytest.FixtureRequest
) -> AsyncIterator[PortalUI]:
    """Kopilka in app mode on the emulated portal, and a desktop Chromium page on the portal.

    A test module's ``B24_OPTIONS`` dict, if any, goes to ``kopilka_on_emulator`` (``program``,
    ``settings``, ``portal``…)."""
    options: dict[str, Any] = dict(getattr(request.module, "B24_OPTIONS", {}))
    async with kopilka_on_emulator(committed_engine, app=True, **options) as stack:
        context = await browser.new_context(viewport=DESKTOP, base_url=stack.server.url)
        try:
            yield PortalUI(stack, await context.new_page())
        finally:
            await context.close()
