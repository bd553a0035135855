"""The periodic job releases holds past their TTL, once; a deal's expired hold marks the deal
dirty on a connected portal so that its sync decides again."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.bitrix24.connections import connect_webhook
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import b24_dirty_deals
from kopilka.holds.service import expire_due_holds
from kopilka.ledger.accrual import accrue
from kopilka.ledger.book import ensure_customer
from kopilka.ledger.queries import balance
from kopilka.ledger.spending import place_hold
from kopilka.lifecycle.service import install_program
from kopilka.program.loader import load_program

EXAMPLE = Path(__file__).parents[2] / "examples" / "retail-wholesale.yaml"
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


async def test_due_holds_are_released_once(committed_engine: AsyncEngine) -> None:
    program = load_program(EXAMPLE)

    async def seed(conn):  # type: ignore[no-untyped-def]
        connection = await connect_webhook(
            conn,
            webhook_url="https://shop.example/rest/1/abc/",
            event_token="token",
            member_id="member-holds",
        )
        book = await install_program(conn, connection.portal_id, program, EXAMPLE.read_text())
        customer = await ensure_customer(conn, connection.portal_id, "contact:5")
        await accrue(
            conn,
            book,
            customer_id=customer,
            amount=1_000_00,
            key="a",
            reason="+",
            actor="test",
            now=NOW - timedelta(days=1),
        )
        for key, hours, reference in (
            ("h1", 1, "deal:77"),
            ("h2", 1, "pos:till-1"),
            ("h3", 48, "deal:78"),
        ):
            await place_hold(
                conn,
                book,
                customer_id=customer,
                amount=100_00,
                key=key,
                reason="hold",
                actor="test",
                now=NOW,
                expires_at=NOW + timedelta(hours=hours),
                reference=reference,
            )
        return book, customer, connection.portal_id

    book, customer, portal_id = await run_in_transaction(committed_engine, seed)
    later = NOW + timedelta(hours=2)
    assert await expire_due_holds(committed_engine, later) == 2
    assert await expire_due_holds(committed_engine, later) == 0
    async with committed_engine.connect() as conn:
        now_balance = await balance(conn, book, customer, later)
        dirty = (
            await conn.scalars(
                select(b24_dirty_deals.c.deal_id).where(b24_dirty_deals.c.portal_id == portal_id)
            )
        ).all()
    assert now_balance.held == 100_00  # the 48-hour hold stands
    assert now_balance.available == 900_00
    assert dirty == [77]
