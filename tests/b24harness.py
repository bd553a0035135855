"""A whole Kopilka against an emulated portal, over real HTTP on loopback.

The emulator (b24emu) runs in its own thread; Kopilka's web app (uvicorn) and a procrastinate
worker run as tasks on the test's event loop, on a database of the test's own. The portal posts
its events to Kopilka's ``/b24/events`` exactly as a real one would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from b24emu import EmuServer, Portal
from kopilka.bitrix24.connections import Connection, attach_program, connect_webhook, set_field_map
from kopilka.bitrix24.provision import provision
from kopilka.bitrix24.sync import dirty_count
from kopilka.config import Settings
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import b24_outbox
from kopilka.jobs import run_worker
from kopilka.ledger.book import get_customer_id
from kopilka.ledger.queries import balance
from kopilka.ledger.types import Balance
from kopilka.program.loader import load_program
from kopilka.services import Services
from kopilka.web.app import create_app
from tests.net import free_socket

EXAMPLES = Path(__file__).parents[1] / "examples"
DEAL_EVENTS = ("ONCRMDEALADD", "ONCRMDEALUPDATE", "ONCRMDEALDELETE")


@dataclass
class Harness:
    portal: Portal
    server: EmuServer
    services: Services
    connection: Connection
    web_url: str
    webhook_url: str
    event_token: str

    @property
    def engine(self) -> AsyncEngine:
        return self.services.engine

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Act as a manager in the portal (not rate limited; events fire as usual)."""
        answer = self.portal.call(method, params or {})
        assert "error" not in answer, answer
        return answer["result"]

    async def settle(self, timeout: float = 60.0) -> None:
        """Wait until the portal's events are delivered and Kopilka has synced and written."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            await self.portal.flush_events()
            async with self.engine.connect() as conn:
                dirty = await dirty_count(conn, self.connection.portal_id)
                jobs = await conn.scalar(
                    text(
                        "SELECT count(*) FROM procrastinate_jobs "
                        "WHERE status IN ('todo', 'doing') AND task_name = 'bitrix24.portal.sync'"
                    )
                )
                pending = await conn.scalar(
                    select(func.count())
                    .select_from(b24_outbox)
                    .where(b24_outbox.c.status == "pending")
                )
            if not dirty and not jobs and not pending:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(
            f"not settled in {timeout}s: dirty={dirty} jobs={jobs} writes={pending}"
        )

    async def balance(self, contact_id: int) -> Balance:
        from kopilka.bitrix24.connections import portal_program

        async with self.engine.connect() as conn:
            book, _program = await portal_program(conn, self.connection)
            customer = await get_customer_id(
                conn, self.connection.portal_id, f"contact:{contact_id}"
            )
            return await balance(conn, book, customer, self.services.now())

    def contact(self, contact_id: int) -> dict[str, Any]:
        result: dict[str, Any] = self.call("crm.contact.get", {"id": contact_id})
        return result

    def comments(self, deal_id: int) -> list[str]:
        items = self.call(
            "crm.timeline.comment.list",
            {"filter": {"ENTITY_ID": deal_id, "ENTITY_TYPE": "deal"}},
        )
        return [str(c["COMMENT"]) for c in items]


@asynccontextmanager
async def kopilka_on_emulator(
    engine: AsyncEngine,
    *,
    program: str = "retail-wholesale.yaml",
    portal: Portal | None = None,
    worker: bool = True,
    settings: Settings | None = None,
) -> AsyncIterator[Harness]:
    portal = portal or Portal.seeded("demo")
    settings = settings or Settings(b24_interval=0.05, b24_burst=10)
    url = engine.url.render_as_string(hide_password=False)
    services = Services(engine=engine, database_url=url, settings=settings)
    app = create_app(services)
    sock = free_socket()
    web_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    web = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    tasks = [asyncio.create_task(web.serve(sockets=[sock]))]
    with EmuServer(portal) as server:
        webhook = portal.add_webhook(user_id=1, scopes=("crm", "im", "lists", "user", "bizproc"))
        token = portal.add_outgoing_webhook(web_url + "/b24/events", events=DEAL_EVENTS)
        prog = load_program(EXAMPLES / program)
        source = (EXAMPLES / program).read_text(encoding="utf-8")

        async def store(conn):  # type: ignore[no-untyped-def]
            connection = await connect_webhook(conn, webhook_url=webhook, event_token=token)
            await attach_program(conn, connection.portal_id, prog, source)
            return connection

        connection = await run_in_transaction(engine, store)
        connection = await _reload(engine, connection.portal_id)
        done = await provision(services.client_for(connection), connection, prog, web_url)
        await run_in_transaction(
            engine, lambda conn: set_field_map(conn, connection.portal_id, done.field_map)
        )
        if worker:
            tasks.append(
                asyncio.create_task(
                    run_worker(
                        services, concurrency=2, install_signal_handlers=False, heartbeat=1.0
                    )
                )
            )
        try:
            yield Harness(portal, server, services, connection, web_url, webhook, token)
        finally:
            web.should_exit = True
            for task in tasks[1:]:
                task.cancel()
            for task in tasks:
                with suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(task, 10)
            await services.aclose()


async def _reload(engine: AsyncEngine, portal_id: int) -> Connection:
    from kopilka.bitrix24.connections import get_connection

    async with engine.connect() as conn:
        return await get_connection(conn, portal_id)
