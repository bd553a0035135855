"""A Kopilka on loopback next to an emulated portal that has not installed it yet: the start of
an app's life, for the installer's tests (``tests.b24harness`` gives one already connected)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

import uvicorn
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from b24emu import EmuServer, Portal
from kopilka.config import Settings
from kopilka.process.devstack import APP_ID, APP_SECRET, SCOPES, emulated_portal, free_socket
from kopilka.process.services import Services
from kopilka.web.app import create_app


@dataclass
class Bare:
    portal: Portal
    server: EmuServer
    services: Services
    web_url: str


@asynccontextmanager
async def kopilka_not_installed(
    engine: AsyncEngine, *, settings: Settings | None = None
) -> AsyncIterator[Bare]:
    """Kopilka's web app (no worker) and a portal where our local app is registered (its
    admin created it) but not installed."""
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
        web = uvicorn.Server(uvicorn.Config(create_app(services), log_level="warning"))
        task = asyncio.create_task(web.serve(sockets=[sock]))
        try:
            while not web.started:
                await asyncio.sleep(0.01)
            portal.register_app(client_id=APP_ID, client_secret=APP_SECRET, scopes=SCOPES)
            yield Bare(portal, server, services, web_url)
        finally:
            web.should_exit = True
            with suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 10)
            await services.aclose()


def installer_form(portal: Portal, user_id: int = 1, **over: str) -> dict[str, str]:
    """The POST a portal sends into the installer's frame (reference §1.2.4)."""
    tokens = portal.issue_tokens(APP_ID, user_id=user_id)
    form = {
        "AUTH_ID": tokens["access_token"],
        "AUTH_EXPIRES": "3600",
        "REFRESH_ID": tokens["refresh_token"],
        "SERVER_ENDPOINT": portal.server_endpoint,
        "APPLICATION_TOKEN": portal.auth.apps[APP_ID].application_token,
        "APPLICATION_SCOPE": ",".join(SCOPES),
        "member_id": portal.member_id,
        "status": "L",
        "PLACEMENT": "DEFAULT",
        "PLACEMENT_OPTIONS": "{}",
    }
    return form | over


def installer_query(portal: Portal, **over: str) -> dict[str, str]:
    return {"DOMAIN": portal.domain, "PROTOCOL": "0", "LANG": "ru", "APP_SID": "a1b2c3"} | over
