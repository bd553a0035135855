"""Factories for tests: keyword-only defaults and random references (STYLE 19)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from b24emu import Portal
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import b24_connections
from kopilka.ledger.book import ensure_book, ensure_customer, ensure_portal
from kopilka.ledger.types import Book

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def ref(prefix: str = "k") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def create_book(
    conn: AsyncConnection,
    *,
    member_id: str | None = None,
    code: str = "test",
    timezone: str = "Europe/Moscow",
    program_hash: str | None = None,
) -> Book:
    portal_id = await ensure_portal(conn, member_id or ref("portal"))
    return await ensure_book(
        conn,
        portal_id,
        code=code,
        title=code,
        timezone=timezone,
        program_hash=program_hash,
        source_name="test.yaml",
        source="",
    )


async def create_customer(
    conn: AsyncConnection, book: Book, *, external_id: str | None = None, name: str = "Иван Петров"
) -> int:
    return await ensure_customer(conn, book.portal_id, external_id or ref("contact"), name=name)


async def connect_app(
    engine: AsyncEngine, portal: Portal, client_id: str, *, application_token: str | None = None
) -> tuple[int, dict[str, Any]]:
    """An app-mode connection of ``portal`` stored directly (as a proven install leaves it),
    with fresh OAuth tokens of the registered app ``client_id``; its id and the tokens."""
    tokens = portal.issue_tokens(client_id)

    async def work(conn: AsyncConnection) -> int:
        portal_id = await ensure_portal(conn, ref("member"))
        await conn.execute(
            insert(b24_connections).values(
                portal_id=portal_id,
                mode="app",
                client_id=client_id,
                domain=portal.domain,
                client_endpoint=portal.client_endpoint,
                access_token=tokens["access_token"],
                refresh_token=tokens["refresh_token"],
                token_expires_at=text("now() + interval '1 hour'"),
                application_token=application_token or ref("app"),
            )
        )
        return portal_id

    return await run_in_transaction(engine, work), tokens
