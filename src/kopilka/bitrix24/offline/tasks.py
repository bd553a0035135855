"""The offline reader's jobs, registered by :func:`kopilka.bitrix24.tasks.register`:

* ``bitrix24.portal.offline`` reads one portal's queue (:func:`~.drain.drain_portal`); one at a
  time per portal (its lock), one waiting at most (its queueing lock). Deferred by the tick, by
  ``ONOFFLINEEVENT`` (``kopilka.bitrix24.events``) and by a switch of delivery.
* ``bitrix24.offline`` (every 5 seconds) defers it for each offline portal not read for
  ``b24_offline_poll_seconds``, or holding a batch not cleared.
"""

from __future__ import annotations

import logging
from typing import Any

import procrastinate
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24.offline.deferred import OFFLINE_TASK, TICK_TASK, defer_offline
from kopilka.bitrix24.offline.drain import drain_portal
from kopilka.bitrix24.offline.queries import due_portals
from kopilka.db.engine import run_in_transaction
from kopilka.logs import bound
from kopilka.process.queue import job_services

log = logging.getLogger("kopilka.process.worker")
TICK_SECONDS = 5


async def offline_job(context: procrastinate.JobContext, portal_id: int) -> dict[str, Any]:
    with bound(portal_id=portal_id, job_id=context.job.id if context.job else None):
        try:
            report = await drain_portal(job_services(context), portal_id)
        except Exception:  # the tick tries again after the poll interval
            log.exception("reading portal %s's offline events failed", portal_id)
            return {"failed": True}
        if report.read:
            log.info(
                "portal %s: %d offline events read, %d hinted, %d unreadable",
                portal_id,
                report.read,
                report.hinted,
                len(report.errors),
            )
    return {"read": report.read, "hinted": report.hinted, "errors": report.errors}


async def offline_tick_job(context: procrastinate.JobContext, timestamp: int) -> None:
    services = job_services(context)

    async def defer(conn: AsyncConnection) -> None:
        every = services.settings.b24_offline_poll_seconds
        for portal_id in await due_portals(conn, services.now(), every):
            await defer_offline(conn, portal_id)

    await run_in_transaction(services.engine, defer)


def register(job_app: procrastinate.App) -> None:
    job_app.task(name=OFFLINE_TASK, pass_context=True)(offline_job)
    tick = job_app.task(name=TICK_TASK, queueing_lock=TICK_TASK, pass_context=True)(
        offline_tick_job
    )
    job_app.periodic(cron=f"* * * * * */{TICK_SECONDS}", periodic_id=TICK_TASK)(tick)
