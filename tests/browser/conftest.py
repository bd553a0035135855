"""Kopilka served by uvicorn on 127.0.0.1 (its own thread and event loop), a portal with the S1
program, a customer with a card and points, the SMS.ru fake, and the system Chromium."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.config import Settings
from kopilka.db.engine import create_engine, run_in_transaction
from kopilka.fakes.smsru import SmsRuFake
from kopilka.ledger.accrual import accrue
from kopilka.ledger.book import ensure_customer, ensure_portal
from kopilka.lifecycle.service import install_program
from kopilka.notify.outbox import Delivery
from kopilka.notify.service import run_notify
from kopilka.process.devstack import free_socket
from kopilka.process.services import Services, utcnow
from kopilka.program.loader import load_program
from kopilka.web.app import create_app
from tests.factories import ref

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ROOT = Path(__file__).parents[2]
SHOTS = ROOT / "var" / "screenshots"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = "+79161234567"


def _chromium_or_skip() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail("Chromium is missing on CI: .ci/run installs it (apt-get install chromium)")
    pytest.skip("no Chromium here (apt-get install chromium); CI runs these tests")


@dataclass
class Site:
    url: str
    sms: SmsRuFake
    settings: Settings
    customer_id: int
    phone: str
    engine: AsyncEngine
    portal_id: int = 0

    def codes(self) -> list[str]:
        return ["".join(c for c in m.text if c.isdigit()) for m in self.sms.messages]

    async def deliver(self) -> Delivery:
        """What the notify worker does for the portal: login codes go out from the outbox."""
        return await deliver(self.engine, self.settings, self.portal_id)


async def deliver(
    engine: AsyncEngine, settings: Settings, portal_id: int, now: Callable[[], datetime] = utcnow
) -> Delivery:
    url = engine.url.render_as_string(hide_password=False)
    services = Services(engine=engine, database_url=url, settings=settings, now=now)
    try:
        return await run_notify(services, portal_id)
    finally:
        await services.aclose()


class LiveServer:
    """uvicorn in a thread with its own loop and engine (async engines are loop-bound)."""

    def __init__(
        self, url: str, settings: Settings, now: Callable[[], datetime] | None = None
    ) -> None:
        self.db_url = url
        self.settings = settings
        self.now = now
        self.sock = free_socket()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server: uvicorn.Server | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            engine = create_engine(self.db_url)
            services = Services(engine=engine, database_url=self.db_url, settings=self.settings)
            if self.now is not None:
                services.now = self.now
            config = uvicorn.Config(
                create_app(services),
                log_level="warning",
                lifespan="on",
                **self.settings.uvicorn_proxy(),  # as `kopilka serve` builds it
            )
            self.server = uvicorn.Server(config)
            try:
                await self.server.serve(sockets=[self.sock])
            finally:
                await services.aclose()
                await engine.dispose()

        asyncio.run(main())

    def __enter__(self) -> LiveServer:
        self.thread.start()
        for _ in range(500):
            if self.server is not None and self.server.started:
                return self
            threading.Event().wait(0.02)
        raise RuntimeError("the server did not start")

    def __exit__(self, *exc: Any) -> None:
        if self.server is not None:
            self.server.should_exit = True
        self.thread.join(10)


async def seed_portal(engine: AsyncEngine, member: str, phone: str) -> int:
    path = ROOT / "examples" / "car-service.yaml"
    program = load_program(path)

    async def unit(conn: Any) -> int:
        portal_id = await ensure_portal(conn, member)
        book = await install_program(conn, portal_id, program, path.read_text(encoding="utf-8"))
        cid = await ensure_customer(
            conn, portal_id, "contact:501", name="Анна Смирнова", phone=phone
        )
        await conn.execute(
            text(
                "INSERT INTO cards (portal_id, customer_id, number, issued_by) "
                "VALUES (:p, :c, :n, 'auto')"
            ),
            {"p": portal_id, "c": cid, "n": phone},
        )
        now = datetime.now(UTC)
        # Two won deals in the portal (car service counts won deals for its levels).
        for deal_id, amount, days in ((7001, 1_250_000, 40), (7002, 830_000, 10)):
            await conn.execute(
                text(
                    "INSERT INTO b24_deals (portal_id, deal_id, category_id, stage_id, semantic,"
                    " amount, contact_ids, closed_at, applied_discount, synced_at) VALUES "
                    "(:p, :d, 0, 'WON', 'S', :a, ARRAY[501]::bigint[], :t, '{}', now())"
                ),
                {"p": portal_id, "d": deal_id, "a": amount, "t": now - timedelta(days=days)},
            )
            await conn.execute(  # the contact's share, as the deal sync records it
                text(
                    "INSERT INTO b24_deal_shares (portal_id, deal_id, contact_id, category_id,"
                    " closed_at, amount) VALUES (:p, :d, 501, 0, :t, :a)"
                ),
                {"p": portal_id, "d": deal_id, "a": amount, "t": now - timedelta(days=days)},
            )
        await accrue(
            conn,
            book,
            customer_id=cid,
            amount=375_00,
            key=ref("k"),
            reason="+375 бонусов: 3 % (Серебряный) от 12 500 ₽ — сделка №7001",
            actor="sync",
            now=now - timedelta(days=40),
            reference="deal:7001",
        )
        await accrue(
            conn,
            book,
            customer_id=cid,
            amount=249_00,
            key=ref("k"),
            reason="+249 бонусов: 3 % (Серебряный) от 8 300 ₽ — сделка №7002",
            actor="sync",
            now=now - timedelta(days=10),
            reference="deal:7002",
            expires_at=now + timedelta(days=30),
        )
        await accrue(
            conn,
            book,
            customer_id=cid,
            amount=100_00,
            key=ref("k"),
            reason="Бонус за отзыв",
            actor="user:1",
            now=now,
            available_at=now + timedelta(days=14),
        )
        return cid

    return await run_in_transaction(engine, unit)


@pytest.fixture
async def site(committed_engine: AsyncEngine) -> AsyncIterator[Site]:
    member = ref("shop")
    cid = await seed_portal(committed_engine, member, PHONE)
    url = committed_engine.url.render_as_string(hide_password=False)
    with SmsRuFake(api_id="test") as sms:
        settings = Settings(
            cabinet_portal=member,
            smsru_api_id=SecretStr("test"),
            smsru_url=sms.url,
            login_max_failures_per_phone=3,
        )
        with LiveServer(url, settings) as server:
            yield Site(
                server.url,
                sms,
                settings,
                cid,
                PHONE,
                committed_engine,
                await portal_of(committed_engine, member),
            )


async def portal_of(engine: AsyncEngine, member: str) -> int:
    async with engine.connect() as conn:
        found = await conn.scalar(
            text("SELECT id FROM portals WHERE member_id = :m"), {"m": member}
        )
    return int(found)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    executable = _chromium_or_skip()
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=executable, args=ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture(scope="session")
def shots() -> Iterator[Path]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS
