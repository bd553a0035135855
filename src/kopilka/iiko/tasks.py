"""Every minute the worker reconciles each linked restaurant: the till's transactions read back
and posted, then every wallet levelled (one run per restaurant at a time: service.sync_link)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import procrastinate

from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.connections import get_connection, is_connected
from kopilka.iiko import queries
from kopilka.iiko.service import client_for, sync_link
from kopilka.process.queue import job_services
from kopilka.process.services import Services

SYNC_TASK = "iiko.sync"


async def sync_job(context: procrastinate.JobContext, timestamp: int) -> None:
    services = job_services(context)
    settings = services.settings
    async with services.engine.connect() as conn:
        links = await queries.active_links(conn)
    if not links:
        return
    if services.http is None:
        services.http = httpx.AsyncClient()
    for link in links:
        await sync_link(
            services.engine,
            client_for(services.http, link, settings),
            link,
            services.now,
            grace=timedelta(seconds=settings.iiko_push_grace_seconds),
            b24=await bitrix24_of(services, link.portal_id),
        )


async def bitrix24_of(services: Services, portal_id: int) -> Bitrix24Client | None:
    """The portal's Bitrix24 client, when it is connected (deals are made only then)."""
    async with services.engine.connect() as conn:
        if not await is_connected(conn, portal_id):
            return None
        connection = await get_connection(conn, portal_id)
    return services.client_for(connection) if connection.status == "active" else None


def register(job_app: procrastinate.App) -> None:
    task = job_app.task(name=SYNC_TASK, queueing_lock=SYNC_TASK, pass_context=True)(sync_job)
    job_app.periodic(cron="* * * * *", periodic_id=SYNC_TASK)(task)
