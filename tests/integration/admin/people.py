"""A portal with the travel club's program (manual bonuses: review, apology up to 3 000 with a
comment) and one customer, and admin people made through the service, for the admin's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.admin import users
from kopilka.admin.auth import AdminSession, find, open_admin_session
from kopilka.admin.passwords import hash_password
from kopilka.config import Settings
from kopilka.db.engine import run_in_transaction
from kopilka.ledger.book import ensure_customer, ensure_portal
from kopilka.lifecycle.service import install_program
from kopilka.program.loader import parse_program
from tests.browser.conftest import LiveServer
from tests.factories import ref

ROOT = Path(__file__).parents[3]
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Shop:
    portal_id: int
    member: str
    customer_id: int


async def seed_shop(conn: AsyncConnection, locale: str = "ru") -> Shop:
    """The travel club (``locale``: the program's language, written into its file)."""
    path = ROOT / "examples" / "travel-club.yaml"
    source = path.read_text(encoding="utf-8").replace(
        "program: travel-club\n", f"program: travel-club\nlocale: {locale}\n"
    )
    member = ref("club")
    portal_id = await ensure_portal(conn, member)
    await install_program(conn, portal_id, parse_program(source, path.name), source)
    customer = await ensure_customer(conn, portal_id, "contact:501", name="Анна Смирнова")
    return Shop(portal_id, member, customer)


async def person(
    conn: AsyncConnection,
    shop: Shop,
    login: str,
    role: str,
    *,
    limit: int | None = None,
    password: str = "correct horse",  # noqa: S107 (a test person's)
) -> int:
    return await users.add_user(
        conn,
        login=login,
        name=login.title(),
        password_hash=hash_password(password, iterations=1_000),
        portal_id=shop.portal_id,
        role=role,
        grant_limit=limit,
        actor="test",
        now=NOW,
    )


async def session_of(conn: AsyncConnection, user_id: int, shop: Shop) -> AdminSession:
    token = await open_admin_session(conn, user_id, shop.portal_id, NOW, 3600)
    found = await find(conn, token, NOW)
    assert found is not None
    return found


async def in_tx(engine: AsyncEngine, work):  # type: ignore[no-untyped-def]
    return await run_in_transaction(engine, work)


@asynccontextmanager
async def served(
    engine: AsyncEngine, locale: str = "ru", **settings: Any
) -> AsyncIterator[tuple[str, Shop]]:
    """Kopilka on loopback for the travel club's portal, with Olga its owner."""

    async def unit(conn: AsyncConnection) -> Shop:
        found = await seed_shop(conn, locale)
        await person(conn, found, "olga", "owner")
        return found

    shop = await run_in_transaction(engine, unit)
    url = engine.url.render_as_string(hide_password=False)
    config = Settings(**({"cabinet_portal": shop.member} | settings))
    with LiveServer(url, config) as server:
        yield server.url, shop


async def signed_in(
    client: httpx.AsyncClient,
    login: str,
    password: str = "correct horse",  # noqa: S107
) -> None:
    await client.get("/admin/login")
    form = {"login": login, "password": password, "csrf": str(client.cookies.get("kop_csrf"))}
    answer = await client.post("/admin/login", data=form)
    assert answer.status_code == 303, answer.text
