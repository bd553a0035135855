"""A Kopilka served by uvicorn on loopback for the cabinet's and the admin's login tests (issue
12): a portal with one customer, the SMS.ru fake, a clock the test moves, and a helper that
does what the notify worker does."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.config import Settings
from kopilka.fakes.smsru import SmsRuFake
from kopilka.notify.outbox import Delivery
from tests.browser.conftest import LiveServer, deliver, portal_of, seed_portal
from tests.factories import ref
from tests.integration.api.conftest import Clock

PHONE = "+79161234567"  # the customer's
STRANGER = "+79169998877"  # no customer's


@dataclass
class Web:
    url: str
    engine: AsyncEngine
    settings: Settings
    sms: SmsRuFake
    clock: Clock
    portal_id: int

    def client(self, **kw: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=60, **kw)

    async def deliver(self) -> Delivery:
        return await deliver(self.engine, self.settings, self.portal_id, self.clock)

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.engine.connect() as conn:
            return await conn.scalar(text(sql), {"p": self.portal_id, **params})

    async def queued_sms(self) -> int:
        return int(
            await self.scalar(
                "SELECT count(*) FROM notifications WHERE portal_id = :p AND channel = 'sms'"
            )
        )


@asynccontextmanager
async def serve(engine: AsyncEngine, **settings: Any) -> AsyncIterator[Web]:
    member = ref("shop")
    await seed_portal(engine, member, PHONE)
    url = engine.url.render_as_string(hide_password=False)
    clock = Clock()
    with SmsRuFake(api_id="test") as sms:
        defaults: dict[str, Any] = {
            "cabinet_portal": member,
            "smsru_api_id": SecretStr("test"),
            "smsru_url": sms.url,
            "quiet_hours": "00:00-23:59",  # login codes go out all the same
        }
        config = Settings(**(defaults | settings))
        with LiveServer(url, config, now=clock) as server:
            yield Web(server.url, engine, config, sms, clock, await portal_of(engine, member))


def csrf_of(client: httpx.AsyncClient) -> str:
    return str(client.cookies.get("kop_csrf"))


async def start(client: httpx.AsyncClient, path: str = "/cabinet/login") -> str:
    """Open a login page: the CSRF cookie and token."""
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return csrf_of(client)


async def ask_code(
    client: httpx.AsyncClient, phone: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.post(
        "/cabinet/login", data={"phone": phone, "csrf": csrf_of(client)}, headers=headers
    )


async def verify(client: httpx.AsyncClient, phone: str, code: str) -> httpx.Response:
    return await client.post(
        "/cabinet/verify", data={"phone": phone, "code": code, "csrf": csrf_of(client)}
    )


def code_in(text: str) -> str:
    found = re.search(r"\b(\d{6})\b", text)
    assert found, text
    return found.group(1)
