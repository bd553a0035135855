"""The Apple Wallet task (registered by ``kopilka.process.worker.make_app``): ``wallet.apple.push``
(every minute) sends the APNs pushes due (:mod:`kopilka.wallet.apple.pushes`)."""

from __future__ import annotations

import logging

import procrastinate

from kopilka.process.queue import job_services
from kopilka.process.services import Services
from kopilka.wallet.apple.apns import Apns
from kopilka.wallet.apple.pushes import Round, send_due

log = logging.getLogger("kopilka.wallet")

PUSH_TASK = "wallet.apple.push"


async def push_round(services: Services) -> Round:
    """Send the pushes due, if Apple Wallet is configured."""
    s = services.settings
    if s.wallet_apple_pass_type_id is None:
        return Round()
    apns = Apns(s)
    try:
        return await send_due(
            services.engine, apns, s.wallet_apple_pass_type_id, s.wallet_apple_push_coalesce_seconds
        )
    finally:
        await apns.aclose()


async def push_job(context: procrastinate.JobContext, timestamp: int) -> dict[str, int]:
    report = await push_round(job_services(context))
    if report.sent or report.retried or report.dropped or report.failed:
        log.info("APNs pushes: %s", report)
    return vars(report)


def register(job_app: procrastinate.App) -> None:
    task = job_app.task(name=PUSH_TASK, queueing_lock=PUSH_TASK, pass_context=True)(push_job)
    job_app.periodic(cron="* * * * *", periodic_id=PUSH_TASK)(task)
