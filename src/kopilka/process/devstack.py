"""A whole Kopilka wired to an emulated portal on loopback: for `kopilka demo` and the tests.

The emulator (b24emu) runs in its own thread; Kopilka's web app (uvicorn) and a procrastinate
worker run as tasks on the caller's event loop. The portal posts its events to Kopilka's
``/b24/events`` over HTTP exactly as a real portal would, and Kopilka calls the portal's REST API
through an incoming webhook (or, with ``app=True``, as an installed OAuth application).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from pydantic import SecretStr
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from b24emu import EmuServer, Portal, RateLimit
from kopilka.bitrix24.connections import (
    Connection,
    connect_webhook,
    find_connection,
    get_connection,
    portal_program,
    set_field_map,
)
from kopilka.bitrix24.deferred import SYNC_TASK
from kopilka.bitrix24.offline.queries import delivery_of
from kopilka.bitrix24.provision import events_for, provision
from kopilka.bitrix24.sync import dirty_count
from kopilka.config import Settings
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import b24_outbox
from kopilka.ledger.book import get_customer_id
from kopilka.ledger.queries import balance
from kopilka.ledger.types import Balance
from kopilka.lifecycle.service import apply_program
from kopilka.process.services import Services
from kopilka.process.worker import run_worker
from kopilka.program.model import Program
from kopilka.web.app import create_app

SCOPES = ("crm", "im", "lists", "user", "bizproc", "catalog", "placement")
APP_ID, APP_SECRET = "local.kopilka.demo", "demo-app-secret"


#: Tests pace Kopilka at 20 requests/s (interval 0.05 s) against a portal that allows as much:
#: the real portal's 2/s would only make them slow. The benchmark uses the real numbers.
TEST_RATE = RateLimit(burst=50, per_second=20.0, enabled=True)


def emulated_portal(seed: str = "demo", *, rate_limit: RateLimit | None = None) -> Portal:
    return Portal.seeded(seed, rate_limit=rate_limit or TEST_RATE)


def free_socket() -> socket.socket:
    """A socket bound to a free port on 127.0.0.1, for uvicorn's ``serve(sockets=…)``.
    Made with ``IPPROTO_TCP`` so that asyncio sets TCP_NODELAY on its connections (otherwise each
    answer waits for the peer's delayed ACK, ~40 ms)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@dataclass
class Stack:
    portal: Portal
    server: EmuServer
    services: Services
    connection: Connection
    web_url: str

    @property
    def engine(self) -> AsyncEngine:
        return self.services.engine

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Act as a manager in the portal (not rate limited; events fire as usual)."""
        answer = self.portal.call(method, params or {})
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']} {answer.get('error_description')}")
        return answer["result"]

    def add_contact(self, name: str, type_id: str = "CLIENT") -> int:
        return int(self.call("crm.contact.add", {"fields": {"NAME": name, "TYPE_ID": type_id}}))

    def add_deal(
        self,
        contact: int,
        amount: str,
        *,
        category: int = 0,
        fields: dict[str, Any] | None = None,
    ) -> int:
        """A deal at its pipeline's first stage with one product row of ``amount`` roubles."""
        stage = "NEW" if category == 0 else f"C{category}:NEW"
        deal = int(
            self.call(
                "crm.deal.add",
                {
                    "fields": {
                        "TITLE": f"Заказ на {amount} ₽",
                        "CATEGORY_ID": category,
                        "STAGE_ID": stage,
                        "CONTACT_ID": contact,
                        **(fields or {}),
                    }
                },
            )
        )
        self.call(
            "crm.deal.productrows.set",
            {"id": deal, "rows": [{"PRODUCT_NAME": "Товар", "PRICE": amount, "QUANTITY": 1}]},
        )
        return deal

    def move(self, deal: int, stage: str) -> None:
        self.call("crm.deal.update", {"id": deal, "fields": {"STAGE_ID": stage}})

    async def settle(self, timeout: float = 60.0) -> None:
        """Wait until the portal's events are delivered and Kopilka has synced and written.

        Quiet means quiet twice: a write that just finished may have queued an event in the
        portal, so the state is checked again after the portal's queue is flushed once more.
        """
        deadline = time.monotonic() + timeout
        state: tuple[int, int, int] = (0, 0, 0)
        quiet = 0
        while time.monotonic() < deadline:
            await self.portal.flush_events()
            state = await self._backlog()
            quiet = quiet + 1 if state == (0, 0, 0) else 0
            if quiet >= 2:
                return
            await asyncio.sleep(0.05 if quiet else 0.1)
        raise TimeoutError(f"not settled in {timeout}s: dirty, jobs, writes = {state}")

    async def _backlog(self) -> tuple[int, int, int]:
        async with self.engine.connect() as conn:
            dirty = await dirty_count(conn, self.connection.portal_id, parked=False)
            jobs = await conn.scalar(
                text(
                    "SELECT count(*) FROM procrastinate_jobs "
                    "WHERE status IN ('todo', 'doing') AND task_name = :task"
                ),
                {"task": SYNC_TASK},
            )
            writes = await conn.scalar(
                select(func.count()).select_from(b24_outbox).where(b24_outbox.c.status == "pending")
            )
        return dirty, int(jobs or 0), int(writes or 0)

    async def balance(self, contact_id: int) -> Balance:
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
        """The deal's timeline comments, oldest first (no-break spaces as plain ones)."""
        items = self.call(
            "crm.timeline.comment.list",
            {"filter": {"ENTITY_ID": deal_id, "ENTITY_TYPE": "deal"}, "order": {"ID": "ASC"}},
        )
        return [str(c["COMMENT"]).replace("\u00a0", " ") for c in items]


@asynccontextmanager
async def kopilka_on_emulator(
    engine: AsyncEngine,
    program: Program,
    source: str,
    *,
    portal: Portal | None = None,
    worker: bool = True,
    settings: Settings | None = None,
    app: bool = False,
    elsewhere: str | None = None,
) -> AsyncIterator[Stack]:
    """Kopilka connected to an emulated portal and provisioned, its web app and (``worker``) a
    worker running in this process; or, with ``elsewhere`` (the URL of a Kopilka web app run
    apart, e.g. ``kopilka serve`` in another process on the same database), neither."""
    portal = portal or emulated_portal()
    sock = free_socket() if not elsewhere else None
    web_url = elsewhere or f"http://127.0.0.1:{sock.getsockname()[1] if sock else 0}"
    with EmuServer(portal) as server:
        settings = settings or Settings(b24_interval=0.05, b24_burst=10)
        settings = settings.model_copy(
            update={
                "public_url": web_url,
                "b24_client_id": APP_ID,
                "b24_client_secret": SecretStr(APP_SECRET),
                "b24_token_url": f"{server.url}/oauth/token/",
                "b24_js_url": f"{server.url}/bx24/api/v1/",  # the emulator's BX24, not the web's
            }
        )
        url = engine.url.render_as_string(hide_password=False)
        services = Services(engine=engine, database_url=url, settings=settings)
        web = uvicorn.Server(
            uvicorn.Config(create_app(services), log_level="warning", **settings.uvicorn_proxy())
        )
        tasks = [asyncio.create_task(web.serve(sockets=[sock]))] if sock else []
        try:
            while tasks and not web.started:
                await asyncio.sleep(0.01)
            connection = await _connect(services, portal, server, web_url, program, app=app)

            async def attach(conn: Any) -> None:
                await apply_program(
                    conn,
                    connection.portal_id,
                    program,
                    source,
                    actor="kopilka devstack",
                    now=services.now(),
                )

            await run_in_transaction(engine, attach)
            async with engine.connect() as conn:
                connection = await get_connection(conn, connection.portal_id)
                delivery = await delivery_of(conn, connection.portal_id)
            done = await provision(
                services.client_for(connection),
                connection,
                program,
                web_url + "/b24/events",
                offline=delivery.mode == "offline",
            )

            async def store(conn: Any) -> None:
                await set_field_map(conn, connection.portal_id, done.field_map)

            await run_in_transaction(engine, store)
            async with engine.connect() as conn:  # with what provisioning recorded
                connection = await get_connection(conn, connection.portal_id)
            if worker and not elsewhere:
                tasks.append(
                    asyncio.create_task(
                        run_worker(
                            services, concurrency=2, install_signal_handlers=False, heartbeat=1.0
                        )
                    )
                )
            yield Stack(portal, server, services, connection, web_url)
        finally:
            web.should_exit = True
            for task in tasks[1:]:
                task.cancel()
            for task in tasks:
                with suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(task, 10)
            await services.aclose()


async def _connect(
    services: Services,
    portal: Portal,
    server: EmuServer,
    web_url: str,
    program: Program,
    *,
    app: bool,
) -> Connection:
    if app:  # the portal installs the app: ONAPPINSTALL reaches /b24/install
        portal.register_app(  # "Your handler path": the app page (the portal's DEFAULT frame)
            client_id=APP_ID, client_secret=APP_SECRET, scopes=SCOPES, app_url=web_url + "/b24/app"
        )
        posted = await asyncio.to_thread(portal.install_app, APP_ID, web_url + "/b24/install")
        member = str(posted.get("auth[member_id]") or portal.member_id)
        async with services.engine.connect() as conn:
            found = await find_connection(conn, member, "")
        if found is None:
            raise RuntimeError("the emulated portal's install did not reach Kopilka")
        return found
    webhook = portal.add_webhook(user_id=1, scopes=SCOPES)
    # the outgoing webhook with the events the program needs, as docs/bitrix24.md tells
    token = portal.add_outgoing_webhook(web_url + "/b24/events", events=events_for(program))

    async def store(conn: Any) -> Connection:
        # the emulator's webhook host is 127.0.0.1, not its domain: name the member_id (as
        # `kopilka connect --member-id` does) instead of learning it from the first event
        return await connect_webhook(
            conn, webhook_url=webhook, event_token=token, member_id=portal.member_id
        )

    return await run_in_transaction(services.engine, store)


def example(name: str) -> tuple[Path, str]:
    path = Path(__file__).parents[3] / "examples" / name
    return path, path.read_text(encoding="utf-8")
