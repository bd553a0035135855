"""``robots.call``: one robot or activity call done and answered (:mod:`kopilka.robots.service`),
registered on the worker's app by ``kopilka.process.worker``. Retried with backoff while the
portal cannot be reached: the call is idempotent (its answer is stored, its entries keyed).

``robots.resend`` (every 5 minutes) defers again the calls of the last day still pending — a job
that ran out of retries during a long outage of the portal — so a robot still waiting is
answered once the portal is back."""

from __future__ import annotations

from datetime import timedelta

import procrastinate

from kopilka.db.engine import run_in_transaction
from kopilka.logs import bound
from kopilka.process.queue import job_services
from kopilka.robots.queries import TASK, redefer_pending
from kopilka.robots.service import run_call

RETRY = procrastinate.RetryStrategy(max_attempts=8, exponential_wait=2)
RESEND = "robots.resend"
RESEND_WITHIN = timedelta(days=1)


async def robot_call_job(context: procrastinate.JobContext, call_id: int) -> str | None:
    with bound(job_id=context.job.id if context.job else None):
        return await run_call(job_services(context), call_id)


async def resend_job(context: procrastinate.JobContext, timestamp: int) -> int:
    services = job_services(context)
    since = services.now() - RESEND_WITHIN
    return await run_in_transaction(services.engine, lambda c: redefer_pending(c, since))


def register(job_app: procrastinate.App) -> None:
    job_app.task(name=TASK, pass_context=True, retry=RETRY)(robot_call_job)
    resend = job_app.task(name=RESEND, queueing_lock=RESEND, pass_context=True)(resend_job)
    job_app.periodic(cron="*/5 * * * *", periodic_id=RESEND)(resend)
