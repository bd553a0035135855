"""A Kopilka app with Apple Wallet configured (certificates made at test time) on a committed
database: one portal, its program, customers with cards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.config import Settings
from kopilka.db.engine import run_in_transaction
from kopilka.ledger.accrual import accrue
from kopilka.ledger.book import ensure_customer, ensure_portal
from kopilka.ledger.types import Book
from kopilka.lifecycle.service import install_program
from kopilka.process.services import Services
from kopilka.program.loader import load_program
from kopilka.web.app import create_app
from tests.factories import ref
from tests.integration.api.conftest import EXAMPLES, POINT, Clock
from tests.wallet_certs import PASS_TYPE_ID, TEAM_ID, Chain, make_chain

WEB_SERVICE = "https://bonus.example.ru/wallet/apple"


def apple_settings(chain: Chain, **extra: Any) -> Settings:
    return Settings(
        wallet_apple_pass_type_id=PASS_TYPE_ID,
        wallet_apple_team_id=TEAM_ID,
        wallet_apple_cert_file=chain.cert,
        wallet_apple_key_file=chain.key,
        wallet_apple_wwdr_file=chain.wwdr,
        wallet_apple_web_service_url=WEB_SERVICE,
        **extra,
    )


@dataclass
class AppleEnv:
    engine: AsyncEngine
    client: httpx.AsyncClient
    services: Services
    portal_id: int
    book: Book
    clock: Clock
    chain: Chain

    async def customer(self, phone: str, points: int = 0) -> int:
        async def unit(conn: Any) -> int:
            cid = await ensure_customer(
                conn, self.portal_id, ref("contact"), name="Анна Иванова", phone=phone
            )
            await conn.execute(
                text(
                    "INSERT INTO cards (portal_id, customer_id, number, issued_by) "
                    "VALUES (:p, :c, :n, 'test')"
                ),
                {"p": self.portal_id, "c": cid, "n": phone},
            )
            return cid

        cid = await run_in_transaction(self.engine, unit)
        if points:
            await self.grant(cid, points)
        return cid

    async def grant(self, customer_id: int, points: int) -> None:
        async def unit(conn: Any) -> None:
            await accrue(
                conn,
                self.book,
                customer_id=customer_id,
                amount=points * POINT,
                key=ref("grant"),
                reason="подарок",
                actor="test",
                now=self.clock.now,
            )

        await run_in_transaction(self.engine, unit)

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.engine.connect() as conn:
            return await conn.scalar(text(sql), params)


@pytest.fixture
def chain(tmp_path: Path) -> Chain:
    return make_chain(tmp_path)


@pytest.fixture
async def apple(committed_engine: AsyncEngine, chain: Chain) -> AsyncIterator[AppleEnv]:
    program = load_program(EXAMPLES / "retail-wholesale.yaml")
    source = (EXAMPLES / "retail-wholesale.yaml").read_text(encoding="utf-8")

    member = ref("portal")

    async def setup(conn: Any) -> tuple[int, Book]:
        portal_id = await ensure_portal(conn, member)
        return portal_id, await install_program(conn, portal_id, program, source)

    portal_id, book = await run_in_transaction(committed_engine, setup)
    clock = Clock()
    url = committed_engine.url.render_as_string(hide_password=False)
    settings = apple_settings(chain, cabinet_portal=member)  # the shop whose cabinet this is
    services = Services(engine=committed_engine, database_url=url, settings=settings, now=clock)
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield AppleEnv(committed_engine, client, services, portal_id, book, clock, chain)
