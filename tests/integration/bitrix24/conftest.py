"""Fixtures of the Bitrix24 client tests: an emulated portal on loopback, its webhook, and
PostgreSQL for what processes share (limiter rows, tokens)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from b24emu import EmuServer, Portal, RateLimit
from kopilka.db.engine import create_engine, run_in_transaction
from kopilka.ledger.book import ensure_portal
from tests.factories import ref


@pytest.fixture
def portal() -> Iterator[Portal]:
    """A portal without a rate limit (tests that want one set ``portal.rate_limit``)."""
    p = Portal(rate_limit=RateLimit(enabled=False))
    yield p
    p.close()


@pytest.fixture
def server(portal: Portal) -> Iterator[EmuServer]:
    with EmuServer(portal) as s:
        yield s


@pytest.fixture
def hook(portal: Portal, server: EmuServer) -> str:
    return portal.add_webhook(user_id=1, scopes=("crm", "user"))


@pytest.fixture
async def portal_id(committed_engine: AsyncEngine) -> int:
    return await run_in_transaction(committed_engine, lambda c: ensure_portal(c, ref("portal")))


@pytest.fixture
async def second_engine(committed_engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """Another pool on the same database: what a second process or machine would have."""
    eng = create_engine(committed_engine.url.render_as_string(hide_password=False))
    yield eng
    await eng.dispose()
