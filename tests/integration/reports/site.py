"""Kopilka served on loopback over the reports' seeded history, with an admin password and the
clock stopped at the history's NOW (the figures relative to now stay the hand-computed ones)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.admin.passwords import hash_password
from kopilka.config import Settings
from kopilka.db.engine import run_in_transaction
from tests.browser.conftest import LiveServer
from tests.factories import ref
from tests.integration.reports.history import NOW, Seeded, seed_history

PASSWORD = "отчёты-2026"


@dataclass
class ReportsSite:
    url: str
    seeded: Seeded

    @asynccontextmanager
    async def admin(self) -> AsyncIterator[httpx.AsyncClient]:
        """A client logged in to the admin."""
        async with httpx.AsyncClient(base_url=self.url, timeout=60) as client:
            await client.get("/admin/login")
            form = {"password": PASSWORD, "csrf": str(client.cookies.get("kop_csrf"))}
            answer = await client.post("/admin/login", data=form)
            assert answer.status_code == 303, answer.text
            yield client


@asynccontextmanager
async def reports_site(engine: AsyncEngine) -> AsyncIterator[ReportsSite]:
    member = ref("shop")
    seeded = await run_in_transaction(engine, lambda conn: seed_history(conn, member))
    settings = Settings(
        cabinet_portal=member,
        admin_password_hash=SecretStr(hash_password(PASSWORD, iterations=1_000)),
    )
    url = engine.url.render_as_string(hide_password=False)
    with LiveServer(url, settings, now=lambda: NOW) as server:
        yield ReportsSite(server.url, seeded)
