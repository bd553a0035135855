"""A committed portal with customers, and a clock the tests move by hand."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.db.engine import run_in_transaction
from kopilka.ledger.book import ensure_customer, ensure_portal
from kopilka.notify.outbox import Policy

MOSCOW = ZoneInfo("Europe/Moscow")


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime.now(UTC) + timedelta(days=1))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Shop:
    engine: AsyncEngine
    portal_id: int
    customers: list[int]
    clock: Clock


@pytest.fixture
async def shop(committed_engine: AsyncEngine) -> Shop:
    async def setup(conn: AsyncConnection) -> tuple[int, list[int]]:
        portal = await ensure_portal(conn, "shop.example")
        found = [
            await ensure_customer(conn, portal, f"contact:{n}", name=f"Клиент {n}")
            for n in (1, 2, 3)
        ]
        return portal, found

    portal, found = await run_in_transaction(committed_engine, setup)
    return Shop(committed_engine, portal, found, Clock())


def policy(
    *, attempts: int = 3, quiet: tuple[int, int] | None = None, backoff: float = 1.0
) -> Policy:
    return Policy(
        tz=MOSCOW,
        quiet=quiet,
        max_attempts=attempts,
        backoff=backoff,
        lease=timedelta(seconds=30),
    )


Later = Callable[[], datetime]


@pytest.fixture
async def shop_portal(db: AsyncConnection) -> int:
    """A portal inside the rolled-back ``db`` transaction."""
    return await ensure_portal(db, "clinic.example")
