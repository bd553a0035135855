"""A portal administrator from Bitrix24 signs in to the admin through the app (issue 18): the
app page's session hands over with a one-time token; a manager's session, a used or a forged
token get nothing. And a person allowed two portals switches between them, not to a third."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.admin import users
from kopilka.admin.passwords import hash_password
from kopilka.b24app.schemas import AppUser
from kopilka.b24app.sessions import open_session
from kopilka.db.engine import run_in_transaction
from kopilka.ledger.book import ensure_portal
from tests.factories import ref
from tests.integration.admin.people import NOW
from tests.integration.api.webauth import Web, csrf_of, serve, start

pytestmark = pytest.mark.timeout(120)


async def _page_session(web: Web, user_id: int, is_admin: bool) -> str:
    async def unit(conn: AsyncConnection) -> str:
        member = await conn.scalar(
            text("SELECT member_id FROM portals WHERE id = :p"),
            {"p": web.portal_id},
        )
        user = AppUser(web.portal_id, member, user_id, "Мария Иванова", is_admin, "ru")
        return await open_session(
            conn, user, web.clock(), timedelta(hours=1), placement="DEFAULT", entity_id=None
        )

    return await run_in_transaction(web.engine, unit)


async def test_a_portal_admin_signs_in_as_the_owner_once_per_token(
    committed_engine: AsyncEngine,
) -> None:
    async with serve(committed_engine) as web:
        admin_sid = await _page_session(web, 7, is_admin=True)
        manager_sid = await _page_session(web, 8, is_admin=False)
        async with web.client() as client:
            refused = await client.post("/admin/from-b24", data={"sid": manager_sid})
            forged = await client.post("/admin/from-b24", data={"sid": "x" * 43})
            handed = await client.post("/admin/from-b24", data={"sid": admin_sid})
            assert handed.status_code == 303
            link = handed.headers["location"]
            token = re.search(r"token=([^&]+)", link).group(1)  # type: ignore[union-attr]
            shown = await client.get(link)
            assert shown.status_code == 200
            assert "handover-go" in shown.text
            form = {"token": token, "csrf": csrf_of(client)}
            entered = await client.post("/admin/handover", data=form)
            assert entered.status_code == 303
            people = await client.get("/admin/people")
            form["csrf"] = csrf_of(client)  # a sign-in starts a new CSRF token
            again = await client.post("/admin/handover", data=form)  # the token is spent
            wrong = await client.post("/admin/handover", data=form | {"token": "y" * 43})
        owner_id = await web.scalar(
            "SELECT id FROM admin_users WHERE b24_portal_id = :p AND b24_user_id = 7"
        )
        role = await web.scalar("SELECT role FROM admin_memberships WHERE user_id = :u", u=owner_id)
        created = await web.scalar(
            "SELECT actor FROM audit_log WHERE action = 'user.created' AND portal_id = :p"
        )
        stored = await web.scalar("SELECT token_hash FROM admin_handovers")
    assert refused.status_code == 403
    assert forged.status_code == 403
    assert people.status_code == 200
    assert "Мария Иванова · владелец" in people.text
    assert role == "owner"
    assert created == "b24:user:7 Мария Иванова"
    assert again.status_code == 410
    assert wrong.status_code == 410
    assert stored != token
    assert len(stored) == 64


async def test_the_portal_switcher_offers_only_the_persons_portals(
    committed_engine: AsyncEngine,
) -> None:
    async with serve(committed_engine) as web:

        async def unit(conn: AsyncConnection) -> tuple[int, int]:
            second = await ensure_portal(conn, ref("second"))
            third = await ensure_portal(conn, ref("third"))
            olga = await users.add_user(
                conn,
                login="olga",
                name="Ольга",
                role="owner",
                grant_limit=None,
                password_hash=hash_password("correct horse", iterations=1_000),
                portal_id=web.portal_id,
                actor="test",
                now=NOW,
            )
            await users.set_membership(
                conn, olga, second, role="viewer", grant_limit=None, actor="test"
            )
            return second, third

        second, third = await run_in_transaction(web.engine, unit)
        async with web.client() as client:
            await start(client, "/admin/login")
            form = {"login": "olga", "password": "correct horse", "csrf": csrf_of(client)}
            assert (await client.post("/admin/login", data=form)).status_code == 303
            page = await client.get("/admin/customers")
            switched = await client.post(
                "/admin/portal", data={"portal_id": str(second), "csrf": csrf_of(client)}
            )
            after = await client.get("/admin/customers")
            foreign = await client.post(
                "/admin/portal", data={"portal_id": str(third), "csrf": csrf_of(client)}
            )
            people = await client.get("/admin/people")  # a viewer there: not an owner's page
    assert 'id="portal-switch"' in page.text
    assert "владелец" in page.text
    assert switched.status_code == 303
    assert "Ольга · наблюдатель" in after.text
    assert foreign.status_code == 403
    assert people.status_code == 403
