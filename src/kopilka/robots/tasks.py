"""``robots.call``: one robot or activity call done and answered (:mod:`kopilka.robots.service`),
registered on the worker's app by ``kopilka.process.worker``. Retried with backoff while the
portal cannot be reached: the call is idempotent (its answer is stored, its entries keyed)."""

from __future__ import annotations

import procrastinate

from kopilka.logs import bound
from kopilka.process.queue import job_services
from kopilka.robots.queries import TASK
from kopilka.robots.service import run_call

RETRY = procrastinate.RetryStrategy(max_attempts=8, exponential_wait=2)


async def robot_call_job(context: procrastinate.JobContext, call_id: int) -> str | None:
    with bound(job_id=context.job.id if context.job else None):
        return await run_call(job_services(context), call_id)


def register(job_app: procrastinate.App) -> None:
    job_app.task(name=TASK, pass_context=True, retry=RETRY)(robot_call_job)
