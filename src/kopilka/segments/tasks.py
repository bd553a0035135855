"""The daily export of mailing segments: every hour the worker exports each ``daily`` segment
not yet exported on the portal's (program-local) day; the first run after midnight does it."""

from __future__ import annotations

import procrastinate

from kopilka.process.queue import job_services
from kopilka.segments.exports import run_daily

DAILY_TASK = "segments.daily"


async def daily_job(context: procrastinate.JobContext, timestamp: int) -> None:
    await run_daily(job_services(context))


def register(job_app: procrastinate.App) -> None:
    task = job_app.task(name=DAILY_TASK, queueing_lock=DAILY_TASK, pass_context=True)(daily_job)
    job_app.periodic(cron="23 * * * *", periodic_id=DAILY_TASK)(task)
