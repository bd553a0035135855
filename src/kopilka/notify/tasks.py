"""The notification, card and registration tasks (registered by ``kopilka.process.worker.make_app``;
their deferrals are in :mod:`kopilka.notify.deferred`).

* ``notify.portal`` expands a portal's ledger events into messages and delivers the due ones,
  then schedules itself for the next due message (backoff, quiet hours, a delayed to-do);
  queueing lock and lock per portal.
* ``cards.contacts`` drains a portal's contact hints (deferred by the events endpoint).
* ``registration.process`` finds or creates the registered customer's contact.
* ``notify.tick`` (every minute) defers ``notify.portal`` where work waits: a safety net for
  events whose job was lost and for ledger changes made outside the connector (CLI grants).
* ``notify.daily`` (hourly; acts once a day per reminder) sends birthday reminders and
  greetings and "points expire soon" reminders.
"""

from __future__ import annotations

import logging
from typing import Any

import procrastinate
from sqlalchemy import text

from kopilka.bitrix24.connections import UnknownPortal
from kopilka.logs import bound
from kopilka.notify.birthdays import run_daily
from kopilka.notify.deferred import CARDS_TASK, NOTIFY_TASK, REGISTRATION_TASK, again
from kopilka.notify.service import run_cards, run_notify
from kopilka.process.queue import job_services
from kopilka.registration.service import note_failure, process_registration

log = logging.getLogger("kopilka.notify")

RETRY_IN = 60
REGISTRATION_ATTEMPTS = 8


async def notify_portal_job(context: procrastinate.JobContext, portal_id: int) -> dict[str, Any]:
    services = job_services(context)
    with bound(portal_id=portal_id, job_id=context.job.id if context.job else None):
        try:
            report = await run_notify(services, portal_id)
        except Exception:
            log.exception("notifications of portal %s: trying again in %d s", portal_id, RETRY_IN)
            await again(context.app, NOTIFY_TASK, portal_id, RETRY_IN)
            return {"failed": True}
        if report.next_due is not None:  # in real seconds, whatever the services' clock says
            wait = (report.next_due - services.now()).total_seconds()
            await again(context.app, NOTIFY_TASK, portal_id, max(wait, 1.0))
        log.info(
            "notifications of portal %s: %d sent, %d retried, %d failed, %d skipped",
            portal_id,
            report.sent,
            report.retried,
            report.failed,
            report.skipped,
        )
    return {"sent": report.sent, "retried": report.retried, "failed": report.failed}


async def cards_job(context: procrastinate.JobContext, portal_id: int) -> dict[str, Any]:
    services = job_services(context)
    with bound(portal_id=portal_id, job_id=context.job.id if context.job else None):
        try:
            report = await run_cards(services, portal_id)
        except UnknownPortal:  # disconnected or uninstalled since: nothing to card any more
            log.info("cards of portal %s: the portal is not connected, nothing done", portal_id)
            return {"contacts": 0}
        except Exception:
            log.exception("cards of portal %s: trying again in %d s", portal_id, RETRY_IN)
            await again(context.app, CARDS_TASK, portal_id, RETRY_IN)
            return {"failed": True}
    return {"contacts": report.contacts}


async def registration_job(context: procrastinate.JobContext, registration_id: int) -> None:
    services = job_services(context)
    with bound(job_id=context.job.id if context.job else None):
        try:
            await process_registration(services, registration_id)
        except Exception as exc:
            attempt = (context.job.attempts if context.job else 0) + 1
            final = attempt >= REGISTRATION_ATTEMPTS
            log.warning("registration %s, attempt %d: %s", registration_id, attempt, exc)
            await note_failure(services, registration_id, exc, final=final)
            raise  # procrastinate retries with backoff


async def tick_job(context: procrastinate.JobContext, timestamp: int) -> None:
    """Defer the notify job of every portal with new events or due messages."""
    services = job_services(context)
    async with services.engine.connect() as conn:
        portals = [
            int(r[0])
            for r in await conn.execute(
                text(
                    "SELECT DISTINCT portal_id FROM notification_events WHERE expanded_at IS NULL "
                    "UNION SELECT DISTINCT portal_id FROM notifications "
                    "WHERE status IN ('pending', 'sending') AND "
                    "coalesce(lease_until, not_before) <= now() "
                    "UNION SELECT DISTINCT portal_id FROM contact_hints"
                )
            )
        ]
    for portal_id in portals:
        await again(context.app, NOTIFY_TASK, portal_id)
        await again(context.app, CARDS_TASK, portal_id)


async def daily_job(context: procrastinate.JobContext, timestamp: int) -> None:
    await run_daily(job_services(context))


def register(job_app: procrastinate.App) -> None:
    job_app.task(name=NOTIFY_TASK, pass_context=True)(notify_portal_job)
    job_app.task(name=CARDS_TASK, pass_context=True)(cards_job)
    job_app.task(
        name=REGISTRATION_TASK,
        pass_context=True,
        retry=procrastinate.RetryStrategy(
            max_attempts=REGISTRATION_ATTEMPTS - 1, exponential_wait=5
        ),
    )(registration_job)
    for name, fn, cron in (
        ("notify.tick", tick_job, "* * * * *"),
        ("notify.daily", daily_job, "7 * * * *"),
    ):
        task = job_app.task(name=name, queueing_lock=name, pass_context=True)(fn)
        job_app.periodic(cron=cron, periodic_id=name)(task)
