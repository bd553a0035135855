"""``b24_robot_calls`` on real PostgreSQL: one row per event_token (a second delivery is counted,
its job not deferred twice), the token stored encrypted and found by its hash, the database
refusing a plaintext token or an unfinished end, and ``robots.resend`` deferring again a call
whose job ran out of retries — never one already answered; a call of a portal uninstalled
meanwhile ends unanswered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from b24emu import Portal
from kopilka.bitrix24.connections import mark_uninstalled
from kopilka.config import Settings
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import b24_robot_calls
from kopilka.ledger.book import ensure_portal
from kopilka.process.services import Services
from kopilka.robots.queries import (
    TASK,
    Incoming,
    finish,
    record_call,
    redefer_pending,
    token_hash,
)
from kopilka.robots.service import run_call
from tests.factories import connect_app

TOKEN = "664f1c7a5b2d43.12345678|A12345_67890_12345_12345|q8Wd0000000000000000000000000000.ab12"


def incoming(token: str = TOKEN) -> Incoming:
    return Incoming(token, "kopilka_accrue", "DEAL_5", 2, {"reason": "review"}, subscribed=True)


async def waiting_jobs(db: AsyncConnection) -> int:
    found = await db.scalar(
        text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = :t AND status = 'todo'"),
        {"t": TASK},
    )
    return int(found or 0)


async def test_one_row_per_token_and_the_resend(db: AsyncConnection) -> None:
    portal = await ensure_portal(db, "robots-member")
    call_id, new = await record_call(db, portal, incoming())
    assert new
    assert await waiting_jobs(db) == 1
    again, new = await record_call(db, portal, incoming())
    assert (again, new) == (call_id, False)
    assert await waiting_jobs(db) == 1  # the waiting job serves the second delivery too
    row = (await db.execute(select(b24_robot_calls))).one()
    assert row.deliveries == 2
    assert row.token_hash == token_hash(TOKEN)
    assert row.event_token == TOKEN  # read back through the column's decryption
    raw = await db.scalar(text("SELECT event_token FROM b24_robot_calls"))
    assert raw.startswith("enc:v1:")
    assert TOKEN not in raw

    # the job ran out of retries: the resend defers it again, once
    await db.execute(text("UPDATE procrastinate_jobs SET status = 'failed'"))
    since = datetime.now(UTC) - timedelta(days=1)
    assert await redefer_pending(db, since) == 1
    assert await redefer_pending(db, since) == 0
    assert await waiting_jobs(db) == 1
    # answered: nothing to resend; a delivery now only counts
    await db.execute(text("UPDATE procrastinate_jobs SET status = 'succeeded'"))
    await db.execute(
        b24_robot_calls.update().values(result={"values": {}, "log": "ok", "error": None})
    )
    await finish(db, call_id, "answered", datetime.now(UTC))
    assert await redefer_pending(db, since) == 0
    await record_call(db, portal, incoming())
    assert await waiting_jobs(db) == 0


@pytest.mark.parametrize(
    "change",
    [
        "event_token = 'plaintext'",
        "state = 'answered'",  # no result, no end
        "subscribed = false, state = 'answered', finished_at = now(), result = '{}'",
    ],
)
async def test_the_database_refuses(db: AsyncConnection, change: str) -> None:
    portal = await ensure_portal(db, "robots-member")
    await record_call(db, portal, incoming())
    with pytest.raises(IntegrityError):
        async with db.begin_nested():
            await db.execute(text(f"UPDATE b24_robot_calls SET {change}"))  # noqa: S608


async def test_a_call_of_a_portal_uninstalled_meanwhile_ends_unanswered(
    committed_engine: AsyncEngine, pg_server: str
) -> None:
    """Nothing is done and nothing is sent (no portal is served here: a call would fail)."""
    portal = Portal()
    portal.register_app("local.robots.gone", "secret")
    portal_id, _tokens = await connect_app(committed_engine, portal, "local.robots.gone")

    async def arrive(conn: AsyncConnection) -> int:
        call_id, _new = await record_call(conn, portal_id, incoming())
        await mark_uninstalled(conn, portal_id)
        return call_id

    call_id = await run_in_transaction(committed_engine, arrive)
    url = committed_engine.url.render_as_string(hide_password=False)
    services = Services(engine=committed_engine, database_url=url, settings=Settings())
    try:
        assert await run_call(services, call_id) == "unanswered"
        assert await run_call(services, call_id) is None  # ended: nothing more to do
    finally:
        await services.aclose()
    async with committed_engine.connect() as conn:
        row = (await conn.execute(select(b24_robot_calls))).one()
    assert row.state == "unanswered"
    assert row.finished_at is not None
    assert "отключён" in row.error
