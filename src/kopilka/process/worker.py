"""The worker's app: every feature's tasks gathered on one procrastinate app (DESIGN D2). This
is process plumbing, imported by the CLI and the devstack only; features defer their jobs
through :mod:`kopilka.process.queue` and register their tasks in their own ``tasks.py``:

* ``kopilka.bitrix24.tasks``: the portal sync, the sweep, the daily jobs;
* ``kopilka.notify.tasks``: notifications, cards, registrations, birthdays;
* ``kopilka.holds.tasks``: holds past their TTL released;
* ``kopilka.robots.tasks``: robot and activity calls done and answered;
* ``kopilka.segments.tasks``: mailing segments exported daily;
* ``kopilka.wallet.google.tasks``: the customers' Google Wallet cards updated;
* ``kopilka.iiko.tasks``: each restaurant's iikoCard wallets reconciled every minute;
* here, what belongs to no feature: ``jobs.retry_stalled`` (every minute) re-queues the jobs of
  workers that stopped sending heartbeats, e.g. killed by SIGKILL mid-job; the sync is
  idempotent, so running it again is safe.

:func:`supervise_worker` keeps a worker running through database outages (issue 16): a worker
that lost the database (procrastinate stops it when its listener fails) waits, with a growing
delay, until the database answers again, starts anew, and defers a sweep of every portal at once:
Bitrix24 retries no event, so the sweep repairs what events the web app refused meanwhile.
Cancelling it stops the worker gracefully: running jobs get ``worker_shutdown_timeout`` seconds to
finish, then are aborted (their work is idempotent and is done again by the next sweep).
"""

from __future__ import annotations

import asyncio
import logging
import time

import procrastinate
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.bitrix24 import tasks as bitrix24_tasks
from kopilka.bitrix24.connections import active_connections
from kopilka.bitrix24.deferred import defer_sync
from kopilka.bitrix24.service import sweep_portal
from kopilka.db.engine import run_in_transaction
from kopilka.holds.tasks import register as register_holds
from kopilka.iiko.tasks import register as register_iiko
from kopilka.notify.tasks import register as register_notify
from kopilka.process.failures import recording_failures
from kopilka.process.queue import conninfo, retry_stalled
from kopilka.process.services import Services
from kopilka.robots.tasks import register as register_robots
from kopilka.segments.tasks import register as register_segments
from kopilka.wallet.apple.tasks import register as register_wallet_apple
from kopilka.wallet.google.tasks import register as register_google_wallet

log = logging.getLogger("kopilka.process.worker")
#: A worker that ran this long before it stopped starts again after the shortest delay.
STEADY_SECONDS = 60.0


async def retry_stalled_job(context: procrastinate.JobContext, timestamp: int) -> None:
    await retry_stalled(context.app)


def make_app(connector: procrastinate.PsycopgConnector) -> procrastinate.App:
    """An app with Kopilka's tasks (each app wraps the plain functions in its own tasks)."""
    job_app = procrastinate.App(connector=connector)
    bitrix24_tasks.register(job_app)
    register_notify(job_app)
    register_holds(job_app)
    register_robots(job_app)
    register_segments(job_app)
    register_wallet_apple(job_app)
    register_google_wallet(job_app)
    register_iiko(job_app)
    name = "jobs.retry_stalled"
    task = job_app.task(name=name, queueing_lock=name, pass_context=True)(retry_stalled_job)
    job_app.periodic(cron="* * * * *", periodic_id=name)(task)
    return job_app


def worker_app(url: str, *, pool_size: int = 4) -> procrastinate.App:
    return make_app(
        procrastinate.PsycopgConnector(conninfo=conninfo(url), min_size=1, max_size=pool_size)
    )


async def run_worker(
    services: Services,
    *,
    concurrency: int = 2,
    wait: bool = True,
    install_signal_handlers: bool = True,
    heartbeat: float = 5.0,
    stalled_after: float = 15.0,
    shutdown_timeout: float = 30.0,
) -> None:
    """Run a worker until cancelled (or, with ``wait=False``, until the queue is empty)."""
    job_app = worker_app(services.database_url, pool_size=concurrency + 2)
    async with job_app.open_async():
        await retry_stalled(job_app, seconds_since_heartbeat=stalled_after)
        await job_app.run_worker_async(
            concurrency=concurrency,
            wait=wait,
            install_signal_handlers=install_signal_handlers,
            additional_context={"services": services},
            update_heartbeat_interval=heartbeat,
            stalled_worker_timeout=stalled_after,
            delete_jobs="successful",
            fetch_job_polling_interval=1.0,
            shutdown_graceful_timeout=shutdown_timeout,
            worker_middleware=[recording_failures(services.engine)],
        )


async def database_reachable(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


async def supervise_worker(services: Services, *, concurrency: int = 2) -> None:
    """Run a worker until cancelled, starting it again whenever it stops (see the module)."""
    s = services.settings
    delay = s.reconnect_first_delay
    while True:
        started = time.monotonic()
        try:
            await run_worker(
                services,
                concurrency=concurrency,
                install_signal_handlers=False,
                heartbeat=s.worker_heartbeat,
                stalled_after=s.worker_stalled_after,
                shutdown_timeout=s.worker_shutdown_timeout,
            )
            log.warning("the worker stopped; starting it again")
        except Exception as exc:  # the database, most likely: the loop below waits for it
            log.warning("the worker stopped (%s); starting it again", type(exc).__name__)
        if time.monotonic() - started > STEADY_SECONDS:
            delay = s.reconnect_first_delay
        await asyncio.sleep(delay)
        delay = min(delay * 2, s.reconnect_max_delay)
        lost = False
        while not await database_reachable(services.engine):
            if not lost:
                log.warning("the database is unreachable; trying again with backoff")
                lost = True
            await asyncio.sleep(delay)
            delay = min(delay * 2, s.reconnect_max_delay)
        log.warning("the database answers: the worker starts again, after a sweep")
        try:
            await sweep_every_portal(services)
        except Exception as exc:  # gone again: the worker's next stop waits for it
            log.warning("no sweep after the outage (%s)", type(exc).__name__)


async def sweep_every_portal(services: Services) -> None:
    """Mark dirty what every portal changed lately, and sync it; now, not at the next minute's
    sweep (a sync job already waiting would have its sweep refused by the queueing lock)."""
    async with services.engine.connect() as conn:
        connections = await active_connections(conn)
    for connection in connections:
        try:
            if await sweep_portal(services, connection):

                async def defer(
                    conn: AsyncConnection, portal_id: int = connection.portal_id
                ) -> None:
                    await defer_sync(conn, portal_id)

                await run_in_transaction(services.engine, defer)
        except Exception as exc:  # the periodic sweep tries again
            log.warning("portal %d not swept (%s)", connection.portal_id, type(exc).__name__)
