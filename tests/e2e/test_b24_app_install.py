"""The app's installer (``POST /b24/app/install``, issue 17 item 1) over real HTTP, on an
emulated portal that has our local app registered but not installed: one pass stores the
connection, binds events, placements and robots, and answers a page that finishes the
install; a forged installer POST is refused, stored nowhere, and calls nothing it names."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from b24emu import EmuServer, Portal
from kopilka.bitrix24.connections import get_connection
from kopilka.db.tables import b24_app_sessions, b24_connections, b24_rejected_events, portals
from kopilka.process.devstack import APP_ID, SCOPES
from kopilka.process.services import Services
from tests.browser.b24portal import kopilka_not_installed
from tests.e2e.test_b24_install import attacker

pytestmark = pytest.mark.timeout(180)


@dataclass
class Bare:
    """A portal with Kopilka's local app created, not installed; Kopilka's web app running."""

    portal: Portal
    server: EmuServer
    services: Services
    web_url: str


@asynccontextmanager
async def not_installed(engine: AsyncEngine) -> AsyncIterator[Bare]:
    async with kopilka_not_installed(engine, worker=False) as (portal, server, services, web):
        yield Bare(portal, server, services, web)


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


async def install(bare: Bare, form: dict[str, str], **query: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(
            bare.web_url + "/b24/app/install",
            params=installer_query(bare.portal, **query),
            data=form,
        )


async def count(engine: AsyncEngine, table: Any) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


def bindings(bare: Bare) -> list[tuple[str, str]]:
    return sorted((b.event, b.handler) for b in bare.portal.events.bindings.values())


async def test_the_installer_installs_in_one_pass_and_again_harmlessly(
    committed_engine: AsyncEngine,
) -> None:
    async with not_installed(committed_engine) as bare:
        page = await install(bare, installer_form(bare.portal))
        assert page.status_code == 200, page.text
        # The page finishes the install, with scripts from Kopilka and the BX24 library only.
        assert '<script src="/b24/app/static/install.js"></script>' in page.text
        assert f'<script src="{bare.server.url}/bx24/api/v1/"></script>' in page.text
        policy = page.headers["content-security-policy"]
        assert f"frame-ancestors {bare.server.url}" in policy
        assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
        assert 'id="installed"' in page.text
        assert "загрузите программу на странице приложения" in page.text
        assert "Иван Петров · администратор портала" in page.text
        # The connection, as the OAuth server named it.
        async with committed_engine.connect() as conn:
            portal_id = await conn.scalar(select(portals.c.id))
            assert portal_id is not None
            connection = await get_connection(conn, portal_id)
        assert (connection.mode, connection.client_id, connection.status) == (
            "app",
            APP_ID,
            "active",
        )
        assert connection.member_id == bare.portal.member_id
        assert connection.client_endpoint == bare.portal.client_endpoint
        # Bound: what needs no program (the program's events come with the program).
        events = bare.web_url + "/b24/events"
        assert bindings(bare) == [("ONAPPUNINSTALL", events)]
        placed = sorted((p["placement"], p["handler"]) for p in bare.portal.placements)
        assert placed == [
            ("CRM_CONTACT_DETAIL_TAB", bare.web_url + "/b24/app/contact"),
            ("CRM_DEAL_DETAIL_TAB", bare.web_url + "/b24/app/deal"),
        ]
        robots = sorted(bare.portal.robots)
        assert robots  # the robots and their activities too
        assert len(bare.portal.bp_activities) == len(robots)
        # The installer again (an app update): the same connection, nothing bound twice.
        again = await install(bare, installer_form(bare.portal))
        assert again.status_code == 200, again.text
        assert 'id="installed"' in again.text
        assert bindings(bare) == [("ONAPPUNINSTALL", events)]
        assert len(bare.portal.placements) == 2
        assert sorted(bare.portal.robots) == robots
        assert await count(committed_engine, portals) == 1
        assert await count(committed_engine, b24_rejected_events) == 0


async def test_a_forged_installer_post_is_refused_and_changes_nothing(
    committed_engine: AsyncEngine,
) -> None:
    async with not_installed(committed_engine) as bare:
        portal = bare.portal
        with attacker() as evil:
            evil_fields = {
                "SERVER_ENDPOINT": f"http://{evil.host}/oauth/",
                "client_endpoint": f"http://{evil.host}/rest/",
            }
            cases: list[tuple[dict[str, str], int, str]] = [
                # a REFRESH_ID Bitrix24 never issued, with the attacker's endpoints
                (
                    installer_form(portal, REFRESH_ID=secrets.token_hex(16), **evil_fields),
                    401,
                    "did not accept",
                ),
                # a genuine token of our app, claimed for another portal
                (installer_form(portal, member_id="victim-portal"), 401, "another portal"),
                # a genuine token of an employee who is not the portal's administrator
                (installer_form(portal, user_id=2), 403, "administrator"),
                # no application token at all
                (installer_form(portal, APPLICATION_TOKEN=""), 400, "application token"),
            ]
            for form, status, reason in cases:
                page = await install(bare, form, DOMAIN=evil.host, PROTOCOL="0")
                assert page.status_code == status, (form, page.text)
                assert reason in page.text
                assert "install.js" not in page.text  # nothing finishes the install
                assert "BX24" not in page.text
            assert evil.seen == []  # nothing the requests named was called
        assert await count(committed_engine, portals) == 0
        assert await count(committed_engine, b24_connections) == 0
        assert await count(committed_engine, b24_app_sessions) == 0
        assert bare.portal.events.bindings == {}
        assert bare.portal.placements == []
        assert bare.portal.robots == {}
        assert await count(committed_engine, b24_rejected_events) == len(cases)
