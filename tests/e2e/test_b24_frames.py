"""Pages framed in the portal (issue 17): a placement's POST is believed only once the portal
itself, at the stored endpoint, vouches for the user's token; the page then carries a session of
its own, and only the portal may frame it."""

from __future__ import annotations

import json
import secrets
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.db.tables import b24_app_sessions, b24_rejected_events
from kopilka.ledger.accrual import accrue
from kopilka.ledger.book import ensure_customer
from kopilka.lifecycle.service import active_program
from kopilka.process.devstack import APP_ID
from tests.b24harness import Harness, kopilka_on_emulator
from tests.factories import ref

pytestmark = pytest.mark.timeout(120)


def placement_form(
    h: Harness, user_id: int, placement: str, entity: int, **over: str
) -> dict[str, Any]:
    tokens = h.portal.issue_tokens(APP_ID, user_id=user_id)
    form = {
        "AUTH_ID": tokens["access_token"],
        "AUTH_EXPIRES": "3600",
        "REFRESH_ID": tokens["refresh_token"],
        "SERVER_ENDPOINT": h.portal.server_endpoint,
        "APPLICATION_TOKEN": h.portal.auth.apps[APP_ID].application_token,
        "APPLICATION_SCOPE": "crm,placement,user",
        "member_id": h.portal.member_id,
        "status": "L",
        "PLACEMENT": placement,
        "PLACEMENT_OPTIONS": json.dumps({"ID": str(entity)}),
    }
    form.update(over)
    return form


def query(h: Harness) -> dict[str, str]:
    sid = secrets.token_hex(16)
    return {"DOMAIN": h.portal.domain, "PROTOCOL": "0", "LANG": "ru", "APP_SID": sid}


async def with_points(h: Harness, contact: int, points: int) -> None:
    async with h.engine.begin() as conn:
        book, _ = await active_program(conn, h.connection.portal_id, h.services.now())
        customer = await ensure_customer(conn, h.connection.portal_id, f"contact:{contact}")
        await accrue(
            conn, book, customer_id=customer, amount=points * 100, key=ref("k"),
            reason="test", actor="test", now=h.services.now(),
        )  # fmt: skip


async def count(engine: AsyncEngine, table: Any) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


async def test_a_tab_opens_for_the_user_the_portal_names_and_continues_by_session(
    committed_engine: AsyncEngine,
) -> None:
    async with kopilka_on_emulator(committed_engine, app=True) as h:
        bound = {p["placement"]: p["handler"] for p in h.portal.placements}
        assert bound["CRM_CONTACT_DETAIL_TAB"] == h.web_url + "/b24/app/contact"
        assert bound["CRM_DEAL_DETAIL_TAB"] == h.web_url + "/b24/app/deal"
        anna = h.add_contact("Анна")
        await with_points(h, anna, 150)
        async with httpx.AsyncClient(base_url=h.web_url) as web:
            page = await web.post(
                "/b24/app/contact",
                params=query(h),
                data=placement_form(h, 2, "CRM_CONTACT_DETAIL_TAB", anna),
            )
            assert page.status_code == 200, page.text
            assert "Мария Соколова" in page.text  # user 2, as user.current named them
            assert 'id="available">150' in page.text
            policy = page.headers["content-security-policy"]
            assert f"frame-ancestors {h.server.url}" in policy  # the stored portal only
            assert "x-frame-options" not in page.headers
            assert "set-cookie" not in page.headers
            sid = page.text.split('name="kopilka-session" content="')[1].split('"')[0]
            assert len(sid) > 30
            async with h.engine.connect() as conn:  # only its hash is kept
                stored = (await conn.execute(select(b24_app_sessions))).one()
            assert stored.user_id == 2
            assert not stored.is_admin
            assert sid.encode() not in stored.token_hash
            # The page goes on with its session, not with the user's token.
            again = await web.post("/b24/app/contact", data={"sid": sid, "entity": str(anna)})
            assert again.status_code == 200, again.text
            assert 'id="available">150' in again.text
            assert "Мария Соколова" in again.text
            # The administrator is told apart by the portal's own word (profile.ADMIN).
            admin = await web.post(
                "/b24/app", params=query(h), data=placement_form(h, 1, "DEFAULT", anna)
            )
            assert "Иван Петров · администратор портала" in admin.text


async def test_a_forged_or_foreign_token_is_refused_recorded_and_opens_nothing(
    committed_engine: AsyncEngine,
) -> None:
    async with kopilka_on_emulator(committed_engine, app=True) as h:
        anna = h.add_contact("Анна")
        await with_points(h, anna, 150)
        before = await count(h.engine, b24_rejected_events)
        async with httpx.AsyncClient(base_url=h.web_url) as web:
            cases = [
                {"AUTH_ID": secrets.token_hex(16)},  # a token the portal never issued
                {"APPLICATION_TOKEN": secrets.token_hex(16)},  # another app's token
                {"member_id": "someone-else"},  # a portal that never installed us
                {"AUTH_ID": "x"},  # malformed
            ]
            for over in cases:
                page = await web.post(
                    "/b24/app/contact",
                    params=query(h),
                    data=placement_form(h, 1, "CRM_CONTACT_DETAIL_TAB", anna, **over),
                )
                assert page.status_code in (400, 401), (over, page.status_code)
                assert "150" not in page.text
                assert 'id="reason"' in page.text
            # A session the page never had.
            page = await web.post("/b24/app/contact", data={"sid": secrets.token_urlsafe(32)})
            assert page.status_code == 401
        assert await count(h.engine, b24_app_sessions) == 0
        assert await count(h.engine, b24_rejected_events) >= before + 4


async def test_a_tab_serves_only_a_record_its_user_may_read_and_only_that_record(
    committed_engine: AsyncEngine,
) -> None:
    async with kopilka_on_emulator(committed_engine, app=True) as h:
        anna, oleg = h.add_contact("Анна"), h.add_contact("Олег")
        await with_points(h, anna, 150)
        await with_points(h, oleg, 70)
        h.portal.crm_hidden[2] = {("contact", oleg)}  # Мария's CRM rights do not show Олег
        async with httpx.AsyncClient(base_url=h.web_url) as web:

            async def tab(user: int, contact: int, placement: str = "CRM_CONTACT_DETAIL_TAB",
                          path: str = "/b24/app/contact") -> httpx.Response:  # fmt: skip
                form = placement_form(h, user, placement, contact)
                return await web.post(path, params=query(h), data=form)

            hidden = await tab(2, oleg)
            assert hidden.status_code == 403
            assert "70" not in hidden.text
            assert (await tab(1, oleg)).status_code == 200  # the admin may read him
            missing = await tab(1, 999_999)  # a record the portal does not have
            assert missing.status_code == 403
            # A deal tab's form posted to the contact tab is not the contact tab.
            assert (await tab(1, anna, placement="CRM_DEAL_DETAIL_TAB")).status_code == 400

            page = await tab(2, anna)
            assert page.status_code == 200
            sid = page.text.split('name="kopilka-session" content="')[1].split('"')[0]
            # Anna's session cannot be turned to Олег, nor to a deal's tab.
            other = await web.post("/b24/app/contact", data={"sid": sid, "entity": str(oleg)})
            assert other.status_code == 403
            assert "70" not in other.text
            deal = await web.post("/b24/app/deal", data={"sid": sid, "entity": str(anna)})
            assert deal.status_code == 403
            same = await web.post("/b24/app/contact", data={"sid": sid})
            assert 'id="available">150' in same.text
