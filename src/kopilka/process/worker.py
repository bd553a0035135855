"""The worker's app: every feature's tasks gathered on one procrastinate app (DESIGN D2). This
is process plumbing, imported by the CLI and the devstack only; features defer their jobs
through :mod:`kopilka.process.queue` and register their tasks in their own ``tasks.py``:

* ``kopilka.bitrix24.tasks``: the portal sync, the sweep, the daily jobs;
* ``kopilka.notify.tasks``: notifications, cards, registrations, birthdays;
* ``kopilka.holds.tasks``: holds past their TTL released;
* here, what belongs to no feature: ``jobs.retry_stalled`` (every minute) re-queues the jobs of
  workers that stopped sending heartbeats, e.g. killed by SIGKILL mid-job; the sync is
  idempotent, so running it again is safe.
"""

from __future__ import annotations

import procrastinate

from kopilka.bitrix24 import tasks as bitrix24_tasks
from kopilka.holds.tasks import register as register_holds
from kopilka.notify.tasks import register as register_notify
from kopilka.process.queue import conninfo, retry_stalled
from kopilka.process.services import Services


async def retry_stalled_job(context: procrastinate.JobContext, timestamp: int) -> None:
    await retry_stalled(context.app)


def make_app(connector: procrastinate.PsycopgConnector) -> procrastinate.App:
    """An app with Kopilka's tasks (each app wraps the plain functions in its own tasks)."""
    job_app = procrastinate.App(connector=connector)
    bitrix24_tasks.register(job_app)
    register_notify(job_app)
    register_holds(job_app)
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
