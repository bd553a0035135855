"""``ONAPPUNINSTALL`` (issue 17 item 1): the connection marked uninstalled, the pages' sessions
ended; the portal's credentials and caches purged when its administrator asks (``CLEAN``) or
the operator's setting says so — and the ledger never, whatever is asked."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.bitrix24.uninstall import purges
from kopilka.config import Settings
from kopilka.db.tables import (
    b24_app_sessions,
    b24_connections,
    b24_portal_health,
    b24_products,
)
from kopilka.process.devstack import APP_ID
from tests.b24harness import Harness, kopilka_on_emulator
from tests.e2e.test_b24_frames import placement_form, query, with_points

pytestmark = pytest.mark.timeout(180)


async def count(engine: AsyncEngine, table: Any, portal_id: int) -> int:
    async with engine.connect() as conn:
        found = await conn.scalar(
            select(func.count()).select_from(table).where(table.c.portal_id == portal_id)
        )
    return int(found or 0)


async def prepared(h: Harness) -> int:
    """A customer with points, an open «Бонусы» tab (a session), a cached product."""
    anna = h.add_contact("Анна")
    await with_points(h, anna, 150)
    async with httpx.AsyncClient(base_url=h.web_url) as web:
        page = await web.post(
            "/b24/app/contact",
            params=query(h),
            data=placement_form(h, 1, "CRM_CONTACT_DETAIL_TAB", anna),
        )
        assert page.status_code == 200, page.text
    async with h.engine.begin() as conn:
        await conn.execute(
            insert(b24_products).values(
                portal_id=h.connection.portal_id, product_id=7, name="Товар", properties={},
                stale=False,
            )
        )  # fmt: skip
    assert await count(h.engine, b24_app_sessions, h.connection.portal_id) == 1
    return anna


async def connection_row(h: Harness) -> Any:
    async with h.engine.connect() as conn:
        return (
            await conn.execute(
                select(b24_connections).where(b24_connections.c.portal_id == h.connection.portal_id)
            )
        ).one()


async def uninstall(h: Harness, *, clean: bool) -> None:
    h.portal.uninstall_app(APP_ID, clean=clean)
    await h.portal.flush_events()


def test_what_an_uninstall_purges() -> None:
    assert [purges(p, c) for p in ("clean", "keep", "purge") for c in ("0", "1")] == [
        False, True, False, False, True, True,
    ]  # fmt: skip


async def test_an_uninstall_keeps_the_portal_unless_asked_and_never_the_points(
    committed_engine: AsyncEngine,
) -> None:
    async with kopilka_on_emulator(committed_engine, app=True) as h:
        anna = await prepared(h)
        portal_id = h.connection.portal_id
        await uninstall(h, clean=False)
        row = await connection_row(h)
        assert row.status == "uninstalled"
        assert row.access_token is None
        assert row.refresh_token is not None  # kept: the administrator did not ask
        assert row.application_token == h.portal.auth.apps[APP_ID].application_token
        assert await count(h.engine, b24_app_sessions, portal_id) == 0  # open tabs end
        assert await count(h.engine, b24_products, portal_id) == 1
        assert (await h.balance(anna)).available == 150_00


async def test_an_uninstall_asked_to_clean_purges_credentials_and_caches_not_points(
    committed_engine: AsyncEngine,
) -> None:
    async with kopilka_on_emulator(committed_engine, app=True) as h:
        anna = await prepared(h)
        portal_id = h.connection.portal_id
        token = h.portal.auth.apps[APP_ID].application_token
        # A forged uninstall first: refused, and it changes nothing.
        async with httpx.AsyncClient(base_url=h.web_url) as web:
            forged = {
                "event": "ONAPPUNINSTALL",
                "data[CLEAN]": "1",
                "auth[member_id]": h.portal.member_id,
                "auth[application_token]": secrets.token_hex(16),
            }
            assert (await web.post("/b24/events", data=forged)).status_code == 401
        assert (await connection_row(h)).status == "active"
        await uninstall(h, clean=True)
        row = await connection_row(h)
        assert row.status == "disconnected"  # as `kopilka portal disconnect` leaves it
        assert (row.access_token, row.refresh_token, row.token_expires_at) == (None, None, None)
        assert row.application_token == ""
        assert await count(h.engine, b24_products, portal_id) == 0
        assert await count(h.engine, b24_portal_health, portal_id) == 0
        assert await count(h.engine, b24_app_sessions, portal_id) == 0
        assert (await h.balance(anna)).available == 150_00  # the points stay
        # The old application token proves nothing any more.
        async with httpx.AsyncClient(base_url=h.web_url) as web:
            again = dict(forged) | {"auth[application_token]": token}
            assert (await web.post("/b24/events", data=again)).status_code == 401


async def test_the_operator_may_purge_always(committed_engine: AsyncEngine) -> None:
    settings = Settings(b24_interval=0.05, b24_burst=10, b24_uninstall="purge")
    async with kopilka_on_emulator(committed_engine, app=True, settings=settings) as h:
        anna = await prepared(h)
        await uninstall(h, clean=False)
        row = await connection_row(h)
        assert (row.status, row.refresh_token, row.application_token) == ("disconnected", None, "")
        assert await count(h.engine, b24_products, h.connection.portal_id) == 0
        assert (await h.balance(anna)).available == 150_00
