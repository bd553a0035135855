"""The job queue's core: procrastinate, Kopilka's own database, and nothing of any feature.

Features defer their jobs through :func:`defer_once` by task *name* (procrastinate needs no
registered task to defer one), in the caller's transaction, so a feature never imports another
feature's tasks, nor the registry of them all. Each feature registers its own tasks
(``<feature>/tasks.py``: ``register(app)``); only the process plumbing
(:mod:`kopilka.process.worker`) gathers them into the worker's app.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, cast

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued, UniqueViolation
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

if TYPE_CHECKING:
    from kopilka.process.services import Services

log = logging.getLogger("kopilka.process.worker")


def conninfo(url: str) -> str:
    """libpq's form of a SQLAlchemy URL (procrastinate speaks psycopg directly)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def job_services(context: procrastinate.JobContext) -> Services:
    """The process's services, handed to every job by ``kopilka.process.worker.run_worker``."""
    services = (context.additional_context or {}).get("services")
    assert services is not None, "workers are started by kopilka.process.worker.run_worker"
    return cast("Services", services)


#: Defers only, always on the caller's connection: it never opens a pool of its own.
defer_app = procrastinate.App(connector=procrastinate.PsycopgConnector())

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


async def retry_stalled(job_app: procrastinate.App, seconds_since_heartbeat: float = 30) -> int:
    """Re-queue the jobs of workers that stopped sending heartbeats (e.g. killed mid-job)."""
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
