"""``ledger.expire_holds`` (every 5 minutes): holds past their TTL are released
(:mod:`kopilka.holds.service`), registered on the worker's app by ``kopilka.process.worker``."""

from __future__ import annotations

import procrastinate

from kopilka.holds.service import expire_due_holds
from kopilka.process.queue import job_services

TASK = "ledger.expire_holds"


async def expire_holds_job(context: procrastinate.JobContext, timestamp: int) -> int:
    services = job_services(context)
    return await expire_due_holds(services.engine, services.now())


def register(job_app: procrastinate.App) -> None:
    task = job_app.task(name=TASK, queueing_lock=TASK, pass_context=True)(expire_holds_job)
    job_app.periodic(cron="*/5 * * * *", periodic_id=TASK)(task)
