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

A portal where Kopilka is not installed yet (the ``b24_fresh`` fixture: the local app created
by the admin with Kopilka's URLs, Kopilka's web app and worker running, no connection) is for
installing from scratch: ``install_from_scratch(page)`` opens the app as the admin, the portal
posts the installer frame (``/b24/app/install``) and waits for its ``BX24.installFinish()``.

``open_card`` clicks the record's «Бонусы» tab (the portal POSTs the §12.2 form into the
iframe with the acting user's tokens); ``open_app`` opens the app page (``DEFAULT``). Both
return the iframe's :class:`~playwright.async_api.Frame` once Kopilka's page has loaded and its
BX24 library has been answered by the portal page.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from b24emu import EmuServer, Portal
from kopilka.config import Settings
from kopilka.process.devstack import APP_ID, APP_SECRET, SCOPES, emulated_portal, free_socket
from kopilka.process.services import Services
from kopilka.process.worker import run_worker
from kopilka.web.app import create_app
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


async def loaded_frame(page: Any, path: str, ready: bool = True) -> Any:
    """The portal page's app iframe once Kopilka's page at ``path`` has loaded in it and
    (``ready``) its BX24 library got the frame's data from the portal page."""
    handle = await page.wait_for_selector("iframe#app-frame", state="attached")
    frame = await handle.content_frame()
    assert frame is not None
    await frame.wait_for_url(f"**{path}*")
    await frame.wait_for_load_state("load")
    if ready:
        await page.wait_for_selector('#app-frame[data-commands*="getInitData"]', state="attached")
    return frame


async def open_card(page: Any, kind: str, entity_id: int, as_user: int = 1) -> Any:
    """Open a contact's or a deal's card as ``as_user`` and its «Бонусы» tab; the tab's frame."""
    await page.goto(f"/portal/crm/{kind}/details/{entity_id}/?as={as_user}")
    await page.click(f"#tab-{TABS[kind]}")
    return await loaded_frame(page, f"/b24/app/{kind}")


async def open_app(page: Any, as_user: int = 1) -> Any:
    """Open Kopilka's app page (the portal's left-menu entry) as ``as_user``; its frame."""
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


@dataclass
class FreshPortal:
    """A portal with Kopilka's local app created but not installed, and Kopilka running."""

    portal: Portal
    server: EmuServer
    services: Services
    web_url: str
    page: Any

    @property
    def installed(self) -> bool:
        return self.portal.auth.apps[APP_ID].installed

    async def shot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path


@asynccontextmanager
async def kopilka_not_installed(
    engine: AsyncEngine, settings: Settings | None = None, worker: bool = True
) -> AsyncIterator[tuple[Portal, EmuServer, Services, str]]:
    """The emulated portal and Kopilka (web app and worker on this loop), the local app
    registered as an admin creates it — «Путь вашего обработчика» ``/b24/app``, «Путь для
    первоначальной установки» ``/b24/app/install`` — and nothing installed."""
    portal = emulated_portal()
    sock = free_socket()
    web_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with EmuServer(portal) as server:
        settings = (settings or Settings(b24_interval=0.05, b24_burst=10)).model_copy(
            update={
                "public_url": web_url,
                "b24_client_id": APP_ID,
                "b24_client_secret": SecretStr(APP_SECRET),
                "b24_token_url": f"{server.url}/oauth/token/",
                "b24_js_url": f"{server.url}/bx24/api/v1/",
            }
        )
        url = engine.url.render_as_string(hide_password=False)
        services = Services(engine=engine, database_url=url, settings=settings)
        web = uvicorn.Server(
            uvicorn.Config(create_app(services), log_level="warning", **settings.uvicorn_proxy())
        )
        tasks = [asyncio.create_task(web.serve(sockets=[sock]))]
        if worker:
            tasks.append(
                asyncio.create_task(
                    run_worker(services, concurrency=2, install_signal_handlers=False, heartbeat=1)
                )
            )
        try:
            while not web.started:
                await asyncio.sleep(0.01)
            portal.register_app(
                APP_ID,
                APP_SECRET,
                SCOPES,
                app_url=web_url + "/b24/app",
                install_url=web_url + "/b24/app/install",
            )
            yield portal, server, services, web_url
        finally:
            web.should_exit = True
            for task in tasks[1:]:
                task.cancel()
            for task in tasks:
                with suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(task, 10)
            await services.aclose()


@pytest.fixture(name="b24_fresh")
async def b24_fresh_fixture(
    committed_engine: AsyncEngine, browser: Any, request: pytest.FixtureRequest
) -> AsyncIterator[FreshPortal]:
    """Kopilka not installed yet on the emulated portal, and a desktop Chromium page on it.

    A test module's ``B24_FRESH_OPTIONS`` (``settings``, ``worker``) go to
    :func:`kopilka_not_installed`."""
    options: dict[str, Any] = dict(getattr(request.module, "B24_FRESH_OPTIONS", {}))
    async with kopilka_not_installed(committed_engine, **options) as (
        portal,
        server,
        services,
        web,
    ):
        context = await browser.new_context(viewport=DESKTOP, base_url=server.url)
        try:
            yield FreshPortal(portal, server, services, web, await context.new_page())
        finally:
            await context.close()


async def open_installer(page: Any, as_user: int = 1, ready: bool = True) -> Any:
    """Open the app as ``as_user`` while it is not installed: the installer's frame."""
    await page.goto(f"/portal/apps/{APP_ID}/install?as={as_user}")
    return await loaded_frame(page, "/b24/app/install", ready)


async def install_from_scratch(page: Any) -> Any:
    """The admin installs Kopilka: the installer frame loads, calls ``BX24.installFinish()``,
    and the portal opens the app page; returns the app page's frame."""
    await open_installer(page, 1)
    await page.wait_for_url(f"**/portal/apps/{APP_ID}/?as=1")
    return await loaded_frame(page, "/b24/app")
