"""The Google cards' jobs (registered by ``kopilka.process.worker.make_app``):

* ``wallet.google.tick`` (every minute) defers ``wallet.google.portal`` for each portal with a
  card whose first unsent change has settled: the minute is what coalesces a burst of ledger
  changes into one update;
* ``wallet.google.portal`` sends those cards (:func:`kopilka.wallet.google.service.update_due`);
  a card Google refused waits for its own retry time, the others go on.

With Google Wallet off, both do nothing.
"""

from __future__ import annotations

import logging
from typing import Any

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued

from kopilka.logs import bound
from kopilka.process.queue import job_services
from kopilka.wallet.google.service import portals_due, update_due, wallet_of

log = logging.getLogger("kopilka.wallet.google")
PORTAL_TASK = "wallet.google.portal"
TICK_TASK = "wallet.google.tick"


async def portal_job(context: procrastinate.JobContext, portal_id: int) -> dict[str, Any]:
    services = job_services(context)
    with bound(portal_id=portal_id, job_id=context.job.id if context.job else None):
        report = await update_due(services, portal_id)
        if report.updated or report.failed:
            log.info(
                "Google cards of portal %s: %d updated, %d failed",
                portal_id,
                report.updated,
                report.failed,
            )
    return {"updated": report.updated, "failed": report.failed}


async def tick_job(context: procrastinate.JobContext, timestamp: int) -> None:
    services = job_services(context)
    if wallet_of(services) is None:
        return
    for portal_id in await portals_due(services):
        lock = f"{PORTAL_TASK}:{portal_id}"
        try:
            await context.app.configure_task(
                PORTAL_TASK, queueing_lock=lock, lock=lock
            ).defer_async(portal_id=portal_id)
        except AlreadyEnqueued:
            pass  # one is waiting already


def register(job_app: procrastinate.App) -> None:
    job_app.task(name=PORTAL_TASK, pass_context=True)(portal_job)
    task = job_app.task(name=TICK_TASK, queueing_lock=TICK_TASK, pass_context=True)(tick_job)
    job_app.periodic(cron="* * * * *", periodic_id=TICK_TASK)(task)
