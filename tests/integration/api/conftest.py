"""A Kopilka app on a committed database with one portal, its program and API keys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.api import handlers
from kopilka.api.keys import create_api_key
from kopilka.config import Settings
from kopilka.db.engine import run_in_transaction
from kopilka.ledger.accrual import accrue
from kopilka.ledger.book import ensure_customer, ensure_portal
from kopilka.ledger.types import Book
from kopilka.lifecycle.service import install_program
from kopilka.process.services import Services
from kopilka.program.loader import load_program
from kopilka.web.app import create_app
from tests.factories import T0, ref

EXAMPLES = Path(__file__).parents[3] / "examples"
POINT = 100


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@dataclass
class ApiEnv:
    engine: AsyncEngine
    client: httpx.AsyncClient
    portal_id: int
    book: Book
    clock: Clock
    till: str
    reader: str
    granter: str
    keys: dict[str, str] = field(default_factory=dict)

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.till}"}

    async def customer(
        self, phone: str | None = None, *, points: int = 0, name: str = "Анна Иванова"
    ) -> int:
        """A customer with a card (the phone) and ``points`` whole points to spend."""
        phone = phone or f"+7912{int(ref('')[1:9], 16) % 10_000_000:07d}"

        async def unit(conn) -> int:  # type: ignore[no-untyped-def]
            cid = await ensure_customer(
                conn, self.portal_id, ref("contact"), name=name, phone=phone
            )
            await conn.execute(
                text(
                    "INSERT INTO cards (portal_id, customer_id, number, issued_by) "
                    "VALUES (:p, :c, :n, 'test')"
                ),
                {"p": self.portal_id, "c": cid, "n": phone},
            )
            if points:
                await accrue(
                    conn,
                    self.book,
                    customer_id=cid,
                    amount=points * POINT,
                    key=ref("fund"),
                    reason="стартовые баллы",
                    actor="test",
                    now=self.clock.now - timedelta(days=1),
                )
            return cid

        return await run_in_transaction(self.engine, unit)


@asynccontextmanager
async def open_api(engine: AsyncEngine, example: str) -> AsyncIterator[ApiEnv]:
    committed_engine = engine
    program = load_program(EXAMPLES / example)
    source = (EXAMPLES / example).read_text(encoding="utf-8")

    async def setup(conn):  # type: ignore[no-untyped-def]
        portal_id = await ensure_portal(conn, ref("portal"))
        book = await install_program(conn, portal_id, program, source)
        keys = {
            "till": await create_api_key(conn, portal_id, "till-1", ["pos:write", "cards:read"]),
            "reader": await create_api_key(conn, portal_id, "site", ["cards:read"]),
            "granter": await create_api_key(conn, portal_id, "crm", ["grants:write"]),
        }
        return portal_id, book, keys

    portal_id, book, keys = await run_in_transaction(committed_engine, setup)
    handlers._programs.clear()
    clock = Clock()
    url = committed_engine.url.render_as_string(hide_password=False)
    services = Services(engine=committed_engine, database_url=url, settings=Settings(), now=clock)
    app = create_app(services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield ApiEnv(
            committed_engine,
            client,
            portal_id,
            book,
            clock,
            keys["till"],
            keys["reader"],
            keys["granter"],
            keys,
        )


@pytest.fixture
async def api(committed_engine: AsyncEngine) -> AsyncIterator[ApiEnv]:
    async with open_api(committed_engine, "retail-wholesale.yaml") as env:
        yield env
