"""A restaurant linked and its wallets kept level: one run per link at a time (an advisory lock
held for the run), each customer with a phone mirrored, the first failure of iiko itself (down,
429, a token refused) ending the run and recorded on the link for the admin and the CLI."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.errors import B24Error
from kopilka.config import Settings
from kopilka.db.engine import run_in_transaction
from kopilka.iiko import queries
from kopilka.iiko.client import IikoClient
from kopilka.iiko.errors import IikoError, IikoRejected
from kopilka.iiko.mirror import Levelled, ensure_guest, level
from kopilka.iiko.orders import push_orders

log = logging.getLogger("kopilka.iiko")

LOCK_SPACE = 0x1_1C0  # pg_advisory_lock(LOCK_SPACE, link id): one run per restaurant


def client_for(http: httpx.AsyncClient, link: queries.Link, settings: Settings) -> IikoClient:
    return IikoClient(
        http,
        link.base_url,
        link.api_login,
        link.organization_id,
        terminal_timeout=settings.iiko_terminal_timeout,
        token_max_age=settings.iiko_token_max_age,
        min_interval=settings.iiko_min_interval,
    )


async def connect(
    conn: AsyncConnection,
    client: IikoClient,
    portal_id: int,
    *,
    base_url: str,
    api_login: str,
    orders_as_deals: bool = True,
    deal_category: int = 0,
    deal_stage: str = "WON",
) -> queries.Link:
    """Link the portal to the organization, once iikoCloud has shown the login reaches it."""
    found = [str(o.get("id")) for o in await client.organizations()]
    if client.organization_id not in found:
        raise IikoRejected(404, "this API login does not reach that organization")
    return await queries.save_link(
        conn,
        portal_id,
        organization_id=client.organization_id,
        api_login=api_login,
        base_url=base_url,
        orders_as_deals=orders_as_deals,
        deal_category=deal_category,
        deal_stage=deal_stage,
    )


@dataclass
class SyncReport:
    link_id: int
    levelled: list[Levelled] = field(default_factory=list)
    error: str | None = None
    busy: bool = False  # another run held the link
    deals: int = 0  # closed orders made deals this run

    @property
    def shortfall(self) -> int:
        return sum(x.shortfall for x in self.levelled)


async def sync_link(
    engine: AsyncEngine,
    client: IikoClient,
    link: queries.Link,
    clock: Callable[[], datetime],
    *,
    grace: timedelta,
    only: int | None = None,
    b24: Bitrix24Client | None = None,
) -> SyncReport:
    """Mirror every customer of the link's portal (``only``: one customer); with the portal's
    Bitrix24 client and the link's ``orders_as_deals``, closed orders become deals first."""
    report = SyncReport(link.id)
    async with engine.connect() as holder:
        got = await holder.scalar(select(func.pg_try_advisory_lock(LOCK_SPACE, link.id)))
        await holder.commit()
        if not got:
            report.busy = True
            return report
        try:
            await _run(engine, client, link, clock, grace, only, report, b24)
        finally:
            await holder.scalar(select(func.pg_advisory_unlock(LOCK_SPACE, link.id)))
            await holder.commit()
    return report


async def _run(
    engine: AsyncEngine,
    client: IikoClient,
    link: queries.Link,
    clock: Callable[[], datetime],
    grace: timedelta,
    only: int | None,
    report: SyncReport,
    b24: Bitrix24Client | None,
) -> None:
    async def who(conn: AsyncConnection) -> list[tuple[int, str, str]]:
        return await queries.phones_to_mirror(conn, link.portal_id)

    people = [p for p in await run_in_transaction(engine, who) if only in (None, p[0])]
    try:
        if b24 is not None and link.orders_as_deals and only is None:
            report.deals = await push_orders(engine, client, b24, link)
        for customer_id, phone, name in people:
            guest = await ensure_guest(engine, client, link, customer_id, phone, name, clock())
            report.levelled.append(await level(engine, client, link, guest, clock, grace=grace))
    except (IikoError, B24Error) as exc:
        report.error = str(exc)
        log.warning("iiko sync of link %s stopped: %s", link.id, exc)

    async def done(conn: AsyncConnection) -> None:
        await queries.record_sync(conn, link.id, clock(), report.error)

    await run_in_transaction(engine, done)
