"""Why a job failed, kept where the admin can show it (``job_failures``, migration 0024).

procrastinate records that a job failed, not why. :func:`recording_failures` is a worker
middleware: a job that raises has its task, the portal it was for (its ``portal_id`` argument,
when it has one), its attempt and its error (type and message, secrets redacted, bounded)
written in a transaction of its own (rows older than 30 days go then), then the error goes on
to procrastinate as before (its retry, its status). A job aborted by a shutdown is not a
failure.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import procrastinate
from procrastinate.exceptions import JobAborted
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.bitrix24.errors import redact
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import job_failures

log = logging.getLogger("kopilka.process.worker")
ERROR_MAX = 1000
KEEP_DAYS = 30


def describe(exc: BaseException) -> str:
    text = redact(f"{type(exc).__name__}: {exc}".strip())
    return (text[: ERROR_MAX - 1] + "…") if len(text) > ERROR_MAX else text


async def record_failure(
    engine: AsyncEngine, job: procrastinate.jobs.Job, exc: BaseException
) -> None:
    portal = job.task_kwargs.get("portal_id")
    values = {
        "job_id": job.id or 0,
        "task_name": job.task_name[:128],
        "portal_id": portal if isinstance(portal, int) else None,
        "attempt": job.attempts,
        "error": describe(exc),
    }

    async def unit(conn: Any) -> None:
        await conn.execute(job_failures.insert().values(**values))
        # kept for KEEP_DAYS: the admin shows the newest, the logs have the rest
        await conn.execute(
            job_failures.delete().where(
                job_failures.c.failed_at < func.now() - timedelta(days=KEEP_DAYS)
            )
        )

    await run_in_transaction(engine, unit)


def recording_failures(
    engine: AsyncEngine,
) -> Callable[..., Awaitable[Any]]:
    async def middleware(
        call_next: Callable[[], Awaitable[Any]], context: procrastinate.JobContext, worker: Any
    ) -> Any:
        try:
            return await call_next()
        except (JobAborted, asyncio.CancelledError):
            raise
        except Exception as exc:
            try:
                await record_failure(engine, context.job, exc)
            except Exception as inner:  # the database is away: the log still says it
                log.warning("the failure of job %s was not recorded (%s)",
                            context.job.id, type(inner).__name__)  # fmt: skip
            raise

    return middleware
