"""``POST /b24/install`` as an attacker would try it, over real HTTP against a running Kopilka on
an emulated portal: an install is believed only when Bitrix24's OAuth server (the configured
token URL, here the emulator's) vouches for it, nothing a request names is ever called, and an
install never replaces another connection."""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.bitrix24.connections import Connection, get_connection
from kopilka.db.tables import b24_connections, b24_rejected_events, portals
from kopilka.process.devstack import APP_ID, APP_SECRET, SCOPES
from tests.b24harness import Harness, kopilka_on_emulator

pytestmark = pytest.mark.timeout(180)


class Attacker:
    """A server that answers every request with a cheerful result, and remembers each one."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        attacker = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                attacker.seen.append(self.path)
                body = b'{"result": {"ID": 1, "INSTALLED": true}, "total": 0}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _any

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@contextmanager
def attacker() -> Iterator[Attacker]:
    evil = Attacker()
    try:
        yield evil
    finally:
        evil.httpd.shutdown()
        evil.httpd.server_close()


def forged_install(member_id: str, evil: Attacker, **auth: str) -> dict[str, str]:
    fields = {
        "member_id": member_id,
        "domain": evil.host,
        "client_endpoint": f"http://{evil.host}/rest/",
        "server_endpoint": f"http://{evil.host}/oauth/",
        "access_token": secrets.token_hex(16),
        "refresh_token": secrets.token_hex(16),
        "application_token": secrets.token_hex(16),
        "expires_in": "3600",
        **auth,
    }
    return {"event": "ONAPPINSTALL", **{f"auth[{k}]": v for k, v in fields.items()}}


async def post(h: Harness, form: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(h.web_url + "/b24/install", data=form)


async def stored(engine: AsyncEngine, portal_id: int) -> tuple[Connection, tuple[Any, ...]]:
    async with engine.connect() as conn:
        connection = await get_connection(conn, portal_id)
        raw = (
            await conn.execute(
                select(b24_connections).where(b24_connections.c.portal_id == portal_id)
            )
        ).one()
    return connection, tuple(raw)


async def count(engine: AsyncEngine, table: Any) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


async def won(h: Harness, contact: int, amount: str) -> None:
    deal = h.add_deal(contact, amount)
    h.move(deal, "WON")
    await h.settle()


async def test_an_install_naming_a_connected_portal_takes_nothing_over(
    committed_engine: AsyncEngine,
) -> None:
    async with kopilka_on_emulator(committed_engine) as h:
        # Our app is even registered on the portal: only the refresh token is the attacker's.
        h.portal.register_app(client_id=APP_ID, client_secret=APP_SECRET, scopes=SCOPES)
        anna = h.add_contact("Анна")
        await won(h, anna, "10000")
        assert (await h.balance(anna)).available == 500_00
        before = await stored(h.engine, h.connection.portal_id)

        with attacker() as evil:
            answer = await post(h, forged_install(h.portal.member_id, evil))
            assert answer.status_code == 401, answer.text
            assert answer.json()["error"]["code"] == "install_refused"
            # Events, a sync of every deal: the attacker's endpoint hears nothing, ever.
            await won(h, anna, "2000")
            assert evil.seen == []

        assert await stored(h.engine, h.connection.portal_id) == before
        assert (await h.balance(anna)).available == 600_00  # 500 + 5 % of 2 000
        assert str(h.contact(anna)["UF_CRM_KOP_BALANCE"]) == "600"
        assert await count(h.engine, portals) == 1  # no tenant was invented
        assert await count(h.engine, b24_rejected_events) == 1


async def test_a_refresh_token_of_another_portal_is_not_an_install_of_this_one(
    committed_engine: AsyncEngine,
) -> None:
    async with kopilka_on_emulator(committed_engine, app=True) as h:
        before = await stored(h.engine, h.connection.portal_id)
        with attacker() as evil:
            # A genuine token of our app, claimed for another member_id.
            genuine = h.portal.install_app(APP_ID)
            form = dict(genuine) | {
                "auth[member_id]": "victim-portal",
                "auth[client_endpoint]": f"http://{evil.host}/rest/",
            }
            answer = await post(h, form)
            assert answer.status_code == 401, answer.text
            assert "another portal" in answer.json()["error"]["message"]
            assert evil.seen == []
        assert await count(h.engine, portals) == 1
        after = await stored(h.engine, h.connection.portal_id)
        assert after[0] == before[0]


async def test_reinstalling_the_same_app_updates_it_and_nothing_else_replaces_it(
    committed_engine: AsyncEngine,
) -> None:
    async with kopilka_on_emulator(committed_engine, app=True) as h:
        anna = h.add_contact("Анна")
        await won(h, anna, "10000")
        first, raw = await stored(h.engine, h.connection.portal_id)
        assert (first.mode, first.client_id) == ("app", APP_ID)

        # The portal installs the app again: the same connection, fresh tokens.
        await asyncio.to_thread(h.portal.install_app, APP_ID, h.web_url + "/b24/install")
        again, raw_again = await stored(h.engine, h.connection.portal_id)
        assert again.portal_id == first.portal_id
        assert again.client_endpoint == first.client_endpoint
        version = b24_connections.c.keys().index("token_version")
        assert raw_again[version] == raw[version] + 1

        # A genuine token with another application token (REFRESH_ID is visible to any user
        # who opens the app's page): refused, the events' proof stays as it was.
        genuine = h.portal.install_app(APP_ID)
        forged = dict(genuine) | {"auth[application_token]": secrets.token_hex(16)}
        answer = await post(h, forged)
        assert answer.status_code == 409, answer.text
        assert answer.json()["error"]["code"] == "install_conflict"
        assert (await stored(h.engine, h.connection.portal_id))[0] == again

        # The portal's own events still work.
        await won(h, anna, "2000")
        assert (await h.balance(anna)).available == 600_00


async def test_an_app_install_never_replaces_a_webhook_connection(
    committed_engine: AsyncEngine,
) -> None:
    async with kopilka_on_emulator(committed_engine) as h:
        before = await stored(h.engine, h.connection.portal_id)
        h.portal.register_app(client_id=APP_ID, client_secret=APP_SECRET, scopes=SCOPES)
        genuine = h.portal.install_app(APP_ID)
        answer = await post(h, dict(genuine))
        assert answer.status_code == 409, answer.text
        assert "connected by webhook" in answer.json()["error"]["message"]
        assert await stored(h.engine, h.connection.portal_id) == before
        anna = h.add_contact("Анна")
        await won(h, anna, "10000")
        assert (await h.balance(anna)).available == 500_00


async def test_a_managers_genuine_token_does_not_reinstall_the_app(
    committed_engine: AsyncEngine,
) -> None:
    """Every employee sees a tab's REFRESH_ID and APPLICATION_TOKEN: replayed as ONAPPINSTALL
    they are genuine, but only an administrator's token installs (the connection would
    otherwise run on a manager's narrower rights)."""
    async with kopilka_on_emulator(committed_engine, app=True) as h:
        before = await stored(h.engine, h.connection.portal_id)
        manager = h.portal.issue_tokens(APP_ID, user_id=2)
        form = {
            "event": "ONAPPINSTALL",
            "auth[member_id]": h.portal.member_id,
            "auth[refresh_token]": manager["refresh_token"],
            "auth[access_token]": manager["access_token"],
            "auth[application_token]": h.portal.auth.apps[APP_ID].application_token,
        }
        answer = await post(h, form)
        assert answer.status_code == 403, answer.text
        assert "administrator" in answer.json()["error"]["message"]
        assert await stored(h.engine, h.connection.portal_id) == before
