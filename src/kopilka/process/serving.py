"""``kopilka serve | web | worker``: a long-running process, up through outages (issue 16).

* The database may go away: the web app answers 503 with ``Retry-After`` meanwhile
  (``web.unavailable``), the worker waits for it with backoff (``worker.supervise_worker``), and
  an embedded server that died is started again (``runtime.watch_embedded``).
* SIGTERM, SIGINT and SIGHUP stop it gracefully: the web servers finish the requests in flight,
  the worker's running jobs finish (or are aborted after ``worker_shutdown_timeout``), then the
  embedded server this process started is stopped if no other process uses it.
* ``/metrics`` is served apart on ``KOPILKA_METRICS_LISTEN`` when set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Generator

import uvicorn

from kopilka.config import Settings
from kopilka.process.runtime import leave_embedded, watch_embedded
from kopilka.process.services import open_services
from kopilka.process.worker import supervise_worker
from kopilka.web.app import create_app
from kopilka.web.metrics import metrics_app

log = logging.getLogger(__name__)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the process stops all its parts together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"KOPILKA_METRICS_LISTEN must be host:port, not {address!r}")
    return host.strip("[]"), int(port)


async def serve(
    settings: Settings, *, host: str, port: int, concurrency: int, web: bool, worker: bool
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    try:
        async with open_services(settings) as services:
            servers: list[uvicorn.Server] = []
            if web:
                app = create_app(services)
                config = uvicorn.Config(
                    app, host=host, port=port, log_level="warning", lifespan="on",
                    **settings.uvicorn_proxy(),
                )  # fmt: skip
                servers.append(_Server(config))
                if settings.metrics_listen:
                    m_host, m_port = split_address(settings.metrics_listen)
                    metrics = metrics_app(services.engine, app.state.ledger_cache)
                    config = uvicorn.Config(metrics, host=m_host, port=m_port, log_level="warning")
                    servers.append(_Server(config))
            parts: list[asyncio.Task[object]] = [asyncio.create_task(s.serve()) for s in servers]
            if worker:
                parts.append(
                    asyncio.create_task(supervise_worker(services, concurrency=concurrency))
                )
            if not settings.database_url:
                parts.append(asyncio.create_task(watch_embedded(settings)))
            stopping: asyncio.Task[object] = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait([*parts, stopping], return_when=asyncio.FIRST_COMPLETED)
            log.warning("stopping" if stopping in done else "a part of the process ended: stopping")
            for server in servers:
                server.should_exit = True
            for task in parts[len(servers) :]:
                task.cancel()
            await asyncio.gather(*parts, return_exceptions=True)
            stopping.cancel()
            for task in done:
                if task is not stopping:
                    task.result()  # a part that failed on its own: say why
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
        await asyncio.to_thread(leave_embedded, settings)
