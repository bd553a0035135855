"""A restaurant linked to a committed Kopilka portal, its iikoCloud a local fake."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.db.engine import run_in_transaction
from kopilka.fakes.iiko import IikoFake
from kopilka.iiko import queries
from kopilka.iiko.client import IikoClient
from kopilka.iiko.service import SyncReport, connect, sync_link
from kopilka.ledger.queries import balance
from tests.integration.api.conftest import ApiEnv, open_api

LOGIN = "iiko-api-login"


@dataclass
class Restaurant:
    api: ApiEnv
    fake: IikoFake
    client: IikoClient
    link: queries.Link

    async def sync(self, customer_id: int | None = None) -> SyncReport:
        return await sync_link(
            self.api.engine,
            self.client,
            self.link,
            self.api.clock,
            grace=timedelta(0),
            only=customer_id,
        )

    async def available(self, customer_id: int) -> int:
        async def read(conn: AsyncConnection) -> int:
            return (await balance(conn, self.api.book, customer_id, self.api.clock.now)).available

        return await run_in_transaction(self.api.engine, read)

    def wallet(self, phone: str) -> int:
        guest = self.fake.guest_by_phone(phone)
        assert guest is not None, f"no guest {phone} in iiko"
        return int(guest.balance * 100)


@pytest.fixture
def iiko_fake() -> Iterator[IikoFake]:
    with IikoFake(api_login=LOGIN) as fake:
        yield fake


@pytest.fixture
async def restaurant(
    committed_engine: AsyncEngine, iiko_fake: IikoFake
) -> AsyncIterator[Restaurant]:
    async with (
        open_api(committed_engine, "retail-wholesale.yaml") as api,
        httpx.AsyncClient() as http,
    ):
        client = IikoClient(http, iiko_fake.url, LOGIN, iiko_fake.organization_id, http_timeout=1.0)

        async def link(conn: AsyncConnection) -> queries.Link:
            return await connect(
                conn, client, api.portal_id, base_url=iiko_fake.url, api_login=LOGIN
            )

        yield Restaurant(api, iiko_fake, client, await run_in_transaction(committed_engine, link))
