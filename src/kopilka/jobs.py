"""Background work on procrastinate (DESIGN D2): jobs are rows in Kopilka's own database.

* ``bitrix24.portal.sync`` drains a portal's dirty deals. Deferred by the events endpoint *in the
  transaction that records the hint*, with a queueing lock per portal so that a burst of events
  leaves one waiting job, and a lock per portal so that two workers never sync a portal at once.
* ``bitrix24.sweep`` (every minute) marks deals modified since the last sweep dirty and defers
  their sync: missed events are repaired within minutes.
* ``bitrix24.daily`` (every 10 minutes) defers ``bitrix24.portal.daily`` for each connected
  portal: due expiries every time; the birthday window and the contacts' totals once per local
  day of the program (``kopilka.bitrix24.daily``).
* ``ledger.expire_holds`` (every 5 minutes) releases holds past their TTL (``kopilka.holds``).
* ``jobs.retry_stalled`` (every minute) re-queues jobs of workers that stopped sending heartbeats,
  e.g. killed by SIGKILL mid-job; the sync is idempotent, so running it again is safe.
"""

from __future__ import annotations

import logging
from typing import Any

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued, UniqueViolation
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.logs import bound
from kopilka.notify.jobs import notify_soon
from kopilka.notify.jobs import register as register_notify
from kopilka.services import Services

log = logging.getLogger("kopilka.jobs")

SYNC_TASK = "bitrix24.portal.sync"
#: A failed sync is not retried by procrastinate (a retried job would collide with the next one
#: queued under the portal's queueing lock): it defers its successor, later and later.
SYNC_BACKOFF = (2, 5, 15, 60, 300)


def conninfo(url: str) -> str:
    """libpq's form of a SQLAlchemy URL (procrastinate speaks psycopg directly)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def sync_lock(portal_id: int) -> str:
    return f"bitrix24.sync:{portal_id}"


def _services(context: procrastinate.JobContext) -> Services:
    services = (context.additional_context or {}).get("services")
    assert isinstance(services, Services), "workers are started by kopilka.jobs.run_worker"
    return services


async def sync_portal_job(
    context: procrastinate.JobContext, portal_id: int, sweep: bool = False, attempt: int = 0
) -> dict[str, Any]:
    from kopilka.bitrix24.service import run_sync

    with bound(portal_id=portal_id, job_id=context.job.id if context.job else None):
        try:
            report = await run_sync(_services(context), portal_id, sweep=sweep)
        except Exception:
            delay = SYNC_BACKOFF[min(attempt, len(SYNC_BACKOFF) - 1)]
            log.exception("sync of portal %s failed; trying again in %d s", portal_id, delay)
            try:
                await context.app.configure_task(
                    SYNC_TASK,
                    queueing_lock=sync_lock(portal_id),
                    lock=sync_lock(portal_id),
                    schedule_in={"seconds": delay},
                ).defer_async(portal_id=portal_id, sweep=sweep, attempt=attempt + 1)
            except AlreadyEnqueued:
                pass  # a newer hint already queued a sync
            return {"failed": True}
        if report.posted:  # ledger changes leave notification events: expand and send them
            await notify_soon(context.app, portal_id)
        log.info(
            "synced portal %s: %d deals, %d postings, %d writes, %d failed",
            portal_id,
            report.deals,
            report.posted,
            report.writes,
            len(report.failed),
        )
    return {"deals": report.deals, "posted": report.posted, "failed": report.failed}


async def sweep_job(context: procrastinate.JobContext, timestamp: int) -> None:
    from kopilka.bitrix24.service import defer_sweeps

    await defer_sweeps(_services(context))


DAILY_TASK = "bitrix24.portal.daily"


def daily_lock(portal_id: int) -> str:
    return f"bitrix24.daily:{portal_id}"


async def daily_job(context: procrastinate.JobContext, portal_id: int) -> dict[str, Any]:
    from kopilka.bitrix24.daily import run_daily

    with bound(portal_id=portal_id, job_id=context.job.id if context.job else None):
        report = await run_daily(_services(context), portal_id)
    return report.as_dict()


async def daily_tick_job(context: procrastinate.JobContext, timestamp: int) -> None:
    from kopilka.bitrix24.connections import active_connections
    from kopilka.db.engine import run_in_transaction

    async def defer(conn: AsyncConnection) -> None:
        for connection in await active_connections(conn):
            await defer_daily(conn, connection.portal_id)

    await run_in_transaction(_services(context).engine, defer)


async def defer_daily(conn: AsyncConnection, portal_id: int) -> bool:
    """Defer the portal's daily run in the caller's transaction; False if one is waiting."""
    raw = await conn.get_raw_connection()
    try:
        async with conn.begin_nested():
            await defer_app.configure_task(
                DAILY_TASK,
                queueing_lock=daily_lock(portal_id),
                lock=daily_lock(portal_id),
                connection=raw.driver_connection,
            ).defer_async(portal_id=portal_id)
    except AlreadyEnqueued:
        return False
    return True


async def retry_stalled_job(context: procrastinate.JobContext, timestamp: int) -> None:
    await retry_stalled(context.app)


async def retry_stalled(job_app: procrastinate.App, seconds_since_heartbeat: float = 30) -> int:
    stalled = list(
        await job_app.job_manager.get_stalled_jobs(seconds_since_heartbeat=seconds_since_heartbeat)
    )
    for job in stalled:
        log.warning("re-queueing job %s (%s): its worker stopped", job.id, job.task_name)
        try:
            await job_app.job_manager.retry_job(job)
        except UniqueViolation:
            # A newer job of the same queueing lock is waiting, and it cannot start while this
            # one holds the lock: close this one; the waiting one does the same, idempotent work.
            assert job.id is not None
            await job_app.job_manager.finish_job_by_id_async(
                job.id, status=procrastinate.jobs.Status.FAILED, delete_job=False
            )
    return len(stalled)


_WAITING = text(
    "SELECT EXISTS (SELECT FROM procrastinate_jobs WHERE queueing_lock = :lock AND status = 'todo')"
)


async def defer_once(conn: AsyncConnection, task: str, lock: str, **kwargs: Any) -> bool:
    """Defer ``task`` in the caller's transaction, unless a job under the same queueing lock is
    already waiting (False then). The look comes first: in a burst of events nearly every call
    finds the job waiting, and a refused insert costs a savepoint and an error."""
    if await conn.scalar(_WAITING, {"lock": lock}):
        return False
    raw = await conn.get_raw_connection()
    try:
        async with conn.begin_nested():  # a refused duplicate must not abort the caller
            await defer_app.configure_task(
                task, queueing_lock=lock, lock=lock, connection=raw.driver_connection
            ).defer_async(**kwargs)
    except AlreadyEnqueued:  # deferred by another transaction meanwhile
        return False
    return True


async def defer_sync(conn: AsyncConnection, portal_id: int, *, sweep: bool = False) -> bool:
    """Defer the portal's sync in the caller's transaction; False if one is already waiting."""
    return await defer_once(conn, SYNC_TASK, sync_lock(portal_id), portal_id=portal_id, sweep=sweep)


async def expire_holds_job(context: procrastinate.JobContext, timestamp: int) -> int:
    from kopilka.holds import expire_due_holds

    services = _services(context)
    return await expire_due_holds(services.engine, services.now())


def make_app(connector: procrastinate.PsycopgConnector) -> procrastinate.App:
    """An app with Kopilka's tasks (each app wraps the plain functions in its own tasks)."""
    job_app = procrastinate.App(connector=connector)
    job_app.task(name=SYNC_TASK, pass_context=True)(sync_portal_job)
    for name, fn in (("bitrix24.sweep", sweep_job), ("jobs.retry_stalled", retry_stalled_job)):
        task = job_app.task(name=name, queueing_lock=name, pass_context=True)(fn)
        job_app.periodic(cron="* * * * *", periodic_id=name)(task)
    job_app.task(name=DAILY_TASK, pass_context=True)(daily_job)
    tick = job_app.task(name="bitrix24.daily", queueing_lock="bitrix24.daily", pass_context=True)(
        daily_tick_job
    )
    job_app.periodic(cron="*/10 * * * *", periodic_id="bitrix24.daily")(tick)
    holds = job_app.task(
        name="ledger.expire_holds", queueing_lock="ledger.expire_holds", pass_context=True
    )(expire_holds_job)
    job_app.periodic(cron="*/5 * * * *", periodic_id="ledger.expire_holds")(holds)

    register_notify(job_app)
    return job_app


#: Defers only, always on the caller's connection: it never opens a pool of its own.
defer_app = make_app(procrastinate.PsycopgConnector())


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
        )
