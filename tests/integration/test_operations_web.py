"""Issue 16 over real HTTP: the bound on requests in flight refuses with 503 and Retry-After at
once; a database out of reach answers 503 with Retry-After (not 500); `/metrics` is served only
with its token, with the ledger's gauges and each portal's connection health, which `/healthz`
reports too (a portal whose credentials broke shows there)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import httpx
import uvicorn
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from b24emu import EmuServer
from kopilka.bitrix24.connections import connect_webhook, get_connection
from kopilka.bitrix24.errors import B24InvalidCredentials
from kopilka.config import Settings
from kopilka.db.engine import create_engine, run_in_transaction
from kopilka.ledger.accrual import accrue
from kopilka.ledger.book import ensure_book, ensure_customer
from kopilka.process.devstack import emulated_portal, free_socket
from kopilka.process.services import Services
from kopilka.web.app import create_app
from tests.factories import T0

TOKEN = "3f0a8c1d2e4b5a6978c0d1e2f3a4b5c6"
SCRAPER = {"Authorization": "Bearer let-me-scrape"}


@asynccontextmanager
async def served(services: Services) -> AsyncIterator[str]:
    sock = free_socket()
    server = uvicorn.Server(uvicorn.Config(create_app(services), log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        with suppress(Exception):
            await asyncio.wait_for(task, 5)


def services_on(engine: AsyncEngine, **settings: object) -> Services:
    url = engine.url.render_as_string(hide_password=False)
    return Services(engine=engine, database_url=url, settings=Settings(**settings))  # type: ignore[arg-type]


async def held_request(url: str) -> asyncio.StreamWriter:
    """A request whose body has not all arrived: it stays in flight until the body ends."""
    host, port = url.removeprefix("http://").split(":")
    _reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"POST /b24/events HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 20\r\n\r\nevent="
    )
    await writer.drain()
    return writer


async def test_requests_beyond_the_bound_are_refused_at_once(committed_engine: AsyncEngine) -> None:
    services = services_on(committed_engine, max_in_flight=2, overload_retry_after=3)
    async with served(services) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        held = [await held_request(url), await held_request(url)]
        for _ in range(200):  # until both are inside the app
            refused = await http.get("/api/v1/customers?phone=1")
            if refused.status_code == 503:
                break
            await asyncio.sleep(0.02)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "3"
        assert refused.json()["error"]["code"] == "overloaded"
        assert (await http.get("/healthz")).status_code == 200  # never refused
        for writer in held:  # the two bodies end: the bound frees
            writer.write(b"ONCRMDEALUPDATE&x=1")
            await writer.drain()
        for _ in range(200):
            answer = await http.get("/api/v1/customers?phone=1")
            if answer.status_code != 503:
                break
            await asyncio.sleep(0.02)
        assert answer.status_code == 401  # through to the API again (no key given)
        for writer in held:
            writer.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_database_out_of_reach_answers_503_with_retry_after() -> None:
    engine = create_engine(f"postgresql+psycopg://kopilka@127.0.0.1:{closed_port()}/kopilka")
    services = services_on(engine, db_retry_after=12)
    try:
        async with served(services) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
            api = await http.get(
                "/api/v1/customers?phone=1", headers={"Authorization": "Bearer kk_x"}
            )
            event = await http.post(
                "/b24/events",
                data={"event": "ONCRMDEALUPDATE", "auth[application_token]": TOKEN},
            )
            health = await http.get("/healthz")
    finally:
        await engine.dispose()
    for answer in (api, event, health):
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] == "12"
    assert api.json()["error"]["code"] == "database_unavailable"
    assert event.json()["error"]["code"] == "database_unavailable"
    assert health.json()["status"] == "database unavailable"


async def test_metrics_need_the_token_and_show_books_and_broken_credentials(
    committed_engine: AsyncEngine,
) -> None:
    portal = emulated_portal()
    with EmuServer(portal) as emu:
        services = services_on(committed_engine, metrics_token=SecretStr("let-me-scrape"))
        good = portal.add_webhook(user_id=1)
        broken = f"{emu.url}/rest/1/not-the-code/"

        async def connect(conn: AsyncConnection) -> int:
            connection = await connect_webhook(
                conn, webhook_url=broken, event_token=TOKEN, member_id=portal.member_id
            )
            book = await ensure_book(
                conn, connection.portal_id, code="default", title="Бонусы", timezone="Europe/Moscow"
            )
            customer = await ensure_customer(conn, connection.portal_id, "contact:7")
            await accrue(
                conn, book, customer_id=customer, amount=123_45, key="metrics-1",
                reason="test", actor="test", now=T0,
            )  # fmt: skip
            return connection.portal_id

        portal_id = await run_in_transaction(committed_engine, connect)
        async with committed_engine.connect() as conn:
            connection = await get_connection(conn, portal_id)
        try:
            await services.client_for(connection).call("profile")
        except B24InvalidCredentials:
            pass
        else:
            raise AssertionError("a wrong webhook code must be refused")

        async with served(services) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
            assert (await http.get("/metrics")).status_code == 404
            wrong = {"Authorization": "Bearer guess"}
            assert (await http.get("/metrics", headers=wrong)).status_code == 404
            metrics = (await http.get("/metrics", headers=SCRAPER)).text
            health = (await http.get("/healthz")).json()
        assert f'kopilka_points_outstanding{{portal="{portal_id}"}} 123.45' in metrics
        assert f'kopilka_points_accrued_total{{portal="{portal_id}"}} 123.45' in metrics
        assert f'kopilka_points_redeemed_total{{portal="{portal_id}"}} 0.0' in metrics
        assert f'kopilka_b24_portal_healthy{{portal="{portal_id}"}} 0.0' in metrics
        assert f'error="B24InvalidCredentials",portal="{portal_id}"' in metrics
        [mine] = [p for p in health["portals"] if p["portal"] == portal_id]
        assert health["status"] == "degraded"
        assert mine["healthy"] is False
        assert mine["last_error_class"] == "B24InvalidCredentials"
        assert mine["last_ok_at"] is None

        async def repair(conn: AsyncConnection) -> None:  # the operator fixes the webhook
            await connect_webhook(
                conn, webhook_url=good, event_token=TOKEN, member_id=portal.member_id
            )

        await run_in_transaction(committed_engine, repair)
        async with committed_engine.connect() as conn:
            connection = await get_connection(conn, portal_id)
        await services.client_for(connection).call("profile")
        async with served(services) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
            metrics = (await http.get("/metrics", headers=SCRAPER)).text
            health = (await http.get("/healthz")).json()
        [mine] = [p for p in health["portals"] if p["portal"] == portal_id]
        assert mine["healthy"] is True
        assert mine["last_ok_at"] is not None
        assert mine["last_error_class"] == "B24InvalidCredentials"  # the last error stays told
        assert f'kopilka_b24_portal_healthy{{portal="{portal_id}"}} 1.0' in metrics
        await services.aclose()
