"""Factories for tests: keyword-only defaults and random references (STYLE 19)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.ledger.book import ensure_book, ensure_customer, ensure_portal
from kopilka.ledger.types import Book

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def ref(prefix: str = "k") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def create_book(
    conn: AsyncConnection, *, member_id: str | None = None, code: str = "test",
    timezone: str = "Europe/Moscow", program_hash: str | None = None,
) -> Book:
    portal_id = await ensure_portal(conn, member_id or ref("portal"))
    return await ensure_book(conn, portal_id, code=code, title=code, timezone=timezone,
                             program_hash=program_hash, source_name="test.yaml", source="")


async def create_customer(conn: AsyncConnection, book: Book, *, external_id: str | None = None,
                          name: str = "Иван Петров") -> int:
    return await ensure_customer(conn, book.portal_id, external_id or ref("contact"), name=name)
