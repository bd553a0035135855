"""The connector's background tasks (DESIGN D2), registered on the worker's app by
``kopilka.process.worker.make_app``:

* ``bitrix24.portal.sync`` drains a portal's dirty deals. Deferred by the events endpoint *in the
  transaction that records the hint*, with a queueing lock per portal so that a burst of events
  leaves one waiting job, and a lock per portal so that two workers never sync a portal at once.
* ``bitrix24.sweep`` (every minute) marks deals modified since the last sweep dirty and defers
  their sync: missed events are repaired within minutes.
* ``bitrix24.offers_poll`` (every 15 seconds) reads the offers-list elements of open deals and
  hints those the manager changed (list edits raise no event: ``kopilka.bitrix24.offers_poll``).
* ``bitrix24.daily`` (every 10 minutes) defers ``bitrix24.portal.daily`` for each connected
  portal: due expiries every time; the birthday window and the contacts' totals once per local
  day of the program (``kopilka.bitrix24.daily``).
* the offline queues' reader (``kopilka.bitrix24.offline.tasks``).
"""

from __future__ import annotations

import logging
from typing import Any

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24.connections import active_connections
from kopilka.bitrix24.daily import run_daily
from kopilka.bitrix24.deferred import DAILY_TASK, SYNC_TASK, defer_daily, sync_lock
from kopilka.bitrix24.offers_poll import POLL_SECONDS, poll_all
from kopilka.bitrix24.offline.tasks import register as register_offline
from kopilka.bitrix24.service import defer_sweeps, run_sync
from kopilka.db.engine import run_in_transaction
from kopilka.logs import bound
from kopilka.notify.deferred import notify_soon
from kopilka.process.queue import job_services

log = logging.getLogger("kopilka.process.worker")

#: A failed sync is not retried by procrastinate (a retried job would collide with the next one
#: queued under the portal's queueing lock): it defers its successor, later and later.
SYNC_BACKOFF = (2, 5, 15, 60, 300)


async def sync_portal_job(
    context: procrastinate.JobContext, portal_id: int, sweep: bool = False, attempt: int = 0
) -> dict[str, Any]:
    with bound(portal_id=portal_id, job_id=context.job.id if context.job else None):
        try:
            report = await run_sync(job_services(context), portal_id, sweep=sweep)
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
    await defer_sweeps(job_services(context))


async def offers_poll_job(context: procrastinate.JobContext, timestamp: int) -> None:
    await poll_all(job_services(context))


async def daily_job(context: procrastinate.JobContext, portal_id: int) -> dict[str, Any]:
    with bound(portal_id=portal_id, job_id=context.job.id if context.job else None):
        report = await run_daily(job_services(context), portal_id)
    return report.as_dict()


async def daily_tick_job(context: procrastinate.JobContext, timestamp: int) -> None:
    async def defer(conn: AsyncConnection) -> None:
        for connection in await active_connections(conn):
            await defer_daily(conn, connection.portal_id)

    await run_in_transaction(job_services(context).engine, defer)


def register(job_app: procrastinate.App) -> None:
    job_app.task(name=SYNC_TASK, pass_context=True)(sync_portal_job)
    sweep = job_app.task(name="bitrix24.sweep", queueing_lock="bitrix24.sweep", pass_context=True)(
        sweep_job
    )
    job_app.periodic(cron="* * * * *", periodic_id="bitrix24.sweep")(sweep)
    poll = job_app.task(
        name="bitrix24.offers_poll", queueing_lock="bitrix24.offers_poll", pass_context=True
    )(offers_poll_job)
    job_app.periodic(cron=f"* * * * * */{POLL_SECONDS}", periodic_id="bitrix24.offers_poll")(poll)
    job_app.task(name=DAILY_TASK, pass_context=True)(daily_job)
    tick = job_app.task(name="bitrix24.daily", queueing_lock="bitrix24.daily", pass_context=True)(
        daily_tick_job
    )
    job_app.periodic(cron="*/10 * * * *", periodic_id="bitrix24.daily")(tick)
    register_offline(job_app)
