"""``POST /b24/events`` over real HTTP: a verified event records its hint and defers one sync in
one transaction; a forged one gets 401, is recorded and logged, and queues nothing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from pydantic import SecretStr
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.bitrix24.connections import Connection, connect_webhook, get_connection
from kopilka.config import Settings
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import b24_dirty_deals, b24_rejected_events, portals
from kopilka.process.devstack import free_socket
from kopilka.process.services import Services
from kopilka.web.app import create_app

TOKEN = "3f0a8c1d2e4b5a6978c0d1e2f3a4b5c6"  # a 32-hex application token, as the portal makes


@dataclass
class Web:
    url: str
    engine: AsyncEngine
    connection: Connection


@asynccontextmanager
async def running(
    engine: AsyncEngine,
    settings: Settings | None = None,
    webhook_url: str = "https://shop.bitrix24.ru/rest/1/abcdef/",
) -> AsyncIterator[Web]:
    """Kopilka's web app on a loopback port, with one webhook portal connected."""
    url = engine.url.render_as_string(hide_password=False)
    services = Services(engine=engine, database_url=url, settings=settings or Settings())
    sock = free_socket()
    server = uvicorn.Server(uvicorn.Config(create_app(services), log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    connection = await run_in_transaction(
        engine,
        lambda conn: connect_webhook(conn, webhook_url=webhook_url, event_token=TOKEN),
    )
    try:
        yield Web(f"http://127.0.0.1:{sock.getsockname()[1]}", engine, connection)
    finally:
        server.should_exit = True
        with suppress(Exception):
            await asyncio.wait_for(task, 5)


@pytest.fixture
async def web(committed_engine: AsyncEngine) -> AsyncIterator[Web]:
    async with running(committed_engine) as served:
        yield served


def event(
    deal_id: str,
    token: str,
    member: str = "a223c6b3710f85df22e9377d6c4f7553",
    domain: str = "shop.bitrix24.ru",
) -> dict[str, str]:
    return {
        "event": "ONCRMDEALUPDATE",
        "event_handler_id": "975",
        "data[FIELDS][ID]": deal_id,
        "ts": "1766047124",
        "auth[domain]": domain,
        "auth[client_endpoint]": "https://shop.bitrix24.ru/rest/",
        "auth[server_endpoint]": "https://oauth.bitrix.info/rest/",
        "auth[member_id]": member,
        "auth[application_token]": token,
    }


async def counts(engine: AsyncEngine) -> tuple[int, int, int]:
    async with engine.connect() as conn:
        dirty = await conn.scalar(select(func.count()).select_from(b24_dirty_deals))
        jobs = await conn.scalar(text("SELECT count(*) FROM procrastinate_jobs"))
        rejected = await conn.scalar(select(func.count()).select_from(b24_rejected_events))
    return int(dirty or 0), int(jobs or 0), int(rejected or 0)


async def test_event_records_the_hint_and_defers_one_sync(web: Web) -> None:
    async with httpx.AsyncClient(base_url=web.url) as http:
        for _ in range(3):  # a burst of events for two deals: one waiting job
            assert (await http.post("/b24/events", data=event("759", TOKEN))).status_code == 200
        assert (await http.post("/b24/events", data=event("760", TOKEN))).status_code == 200
    dirty, jobs, rejected = await counts(web.engine)
    assert (dirty, jobs, rejected) == (2, 1, 0)
    async with web.engine.connect() as conn:
        version = await conn.scalar(
            select(b24_dirty_deals.c.version).where(b24_dirty_deals.c.deal_id == 759)
        )
        member = await conn.scalar(
            select(portals.c.member_id).where(portals.c.id == web.connection.portal_id)
        )
    assert version == 3  # every hint counted: one arriving mid-sync is not lost
    assert member == "a223c6b3710f85df22e9377d6c4f7553"  # learnt from the first verified event


async def test_forged_token_is_refused_logged_and_queues_nothing(
    web: Web, caplog: pytest.LogCaptureFixture
) -> None:
    forged = "0" * 32
    with caplog.at_level(logging.WARNING, logger="kopilka.bitrix24.events"):
        async with httpx.AsyncClient(base_url=web.url) as http:
            answer = await http.post("/b24/events", data=event("759", forged))
            unknown = await http.post(
                "/b24/events", data=event("759", TOKEN, member="other", domain="other.bitrix24.ru")
            )
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "invalid_application_token"
    assert unknown.status_code == 401  # a portal that is not connected
    assert await counts(web.engine) == (0, 0, 2)
    assert "rejected Bitrix24 event" in caplog.text
    assert forged not in caplog.text
    async with web.engine.connect() as conn:
        connection = await get_connection(conn, web.connection.portal_id)
    assert connection.member_id.startswith("domain:")  # a forged event teaches nothing


async def test_bad_bodies_get_4xx(web: Web) -> None:
    async with httpx.AsyncClient(base_url=web.url) as http:
        no_event = await http.post("/b24/events", data={"auth[application_token]": TOKEN})
        not_utf8 = await http.post("/b24/events", content=b"\xff\xfe")
    assert no_event.status_code == 400
    assert not_utf8.status_code == 400
    assert (await counts(web.engine))[:2] == (0, 0)


async def test_health_and_metrics(committed_engine: AsyncEngine) -> None:
    settings = Settings(metrics_token=SecretStr("scrape"))
    async with (
        running(committed_engine, settings) as web,
        httpx.AsyncClient(base_url=web.url) as http,
    ):
        await http.post("/b24/events", data=event("42", TOKEN))
        health = await http.get("/healthz")
        scraper = {"Authorization": "Bearer scrape"}
        metrics = (await http.get("/metrics", headers=scraper)).text
    portal = web.connection.portal_id
    assert health.json() == {
        "status": "ok",
        "database": "ok",
        "portals": [
            {"portal": portal, "healthy": True, "last_ok_at": None, "last_error_at": None,
             "last_error_class": None}
        ],
    }  # fmt: skip
    assert f'kopilka_sync_dirty_deals{{portal="{portal}"}} 1.0' in metrics
    assert 'kopilka_jobs{queue="default",status="todo"} 1.0' in metrics
    assert "kopilka_sync_lag_seconds" in metrics
