"""``ONOFFLINEEVENT`` at ``POST /b24/events`` (§6.7): a verified one has the portal's offline
queue read at once (one job, however many signals); a forged one is refused and defers
nothing."""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.bitrix24.offline.deferred import OFFLINE_TASK
from tests.integration.bitrix24.test_events import TOKEN, running

MEMBER = "a223c6b3710f85df22e9377d6c4f7553"


def signal(token: str) -> dict[str, str]:
    return {
        "event": "ONOFFLINEEVENT",
        "event_handler_id": "12",
        "ts": "1736405807",
        "auth[domain]": "shop.bitrix24.ru",
        "auth[member_id]": MEMBER,
        "auth[refresh_token]": "r" * 32,
        "auth[application_token]": token,
    }


async def jobs(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        found = await conn.scalar(
            text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = :t"),
            {"t": OFFLINE_TASK},
        )
    return int(found or 0)


async def test_a_verified_signal_defers_one_read_and_a_forged_one_none(
    committed_engine: AsyncEngine,
) -> None:
    async with running(committed_engine) as web, httpx.AsyncClient(base_url=web.url) as http:
        forged = await http.post("/b24/events", data=signal("f" * 32))
        assert forged.status_code == 401
        assert await jobs(web.engine) == 0
        for _ in range(3):
            answer = await http.post("/b24/events", data=signal(TOKEN))
            assert answer.status_code == 200, answer.text
    assert await jobs(web.engine) == 1
