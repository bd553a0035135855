"""The admin on a connected portal (issue 18), over HTTP on the emulated portal: a grant in the
admin shows on the contact's timeline like a grant from the tab, the ledger links its deals to
the portal, and the card is issued through the same path as the tab's — each audited."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.admin import users
from kopilka.admin.passwords import hash_password
from kopilka.db.engine import run_in_transaction
from tests.b24harness import kopilka_on_emulator
from tests.e2e.test_b24_contact_tab import TRAVEL, meta_sid, placement_form, with_points
from tests.integration.admin.people import NOW, signed_in

pytestmark = pytest.mark.timeout(180)


async def test_a_grant_and_a_card_from_the_admin_reach_the_contact(
    committed_engine: AsyncEngine,
) -> None:
    async with kopilka_on_emulator(committed_engine, program=TRAVEL, app=True) as h:
        phone = {"PHONE": [{"VALUE": "+7 916 123-45-67", "VALUE_TYPE": "MOBILE"}]}
        anna = int(h.call("crm.contact.add", {"fields": {"NAME": "Анна", **phone}}))
        await with_points(h, anna, 150, reference="deal:77")

        async def unit(conn: AsyncConnection) -> int:
            await users.add_user(
                conn, login="olga", name="Ольга", role="owner", grant_limit=None,
                password_hash=hash_password("correct horse", iterations=1_000),
                portal_id=h.connection.portal_id, actor="test", now=NOW,
            )  # fmt: skip
            found = await conn.scalar(
                text("SELECT id FROM customers WHERE external_id = :e"), {"e": f"contact:{anna}"}
            )
            return int(found)

        customer = await run_in_transaction(h.engine, unit)
        async with httpx.AsyncClient(base_url=h.web_url, timeout=60) as web:
            await signed_in(web, "olga")
            path = f"/admin/customers/{customer}"
            page = await web.get(path)
            assert f'href="{h.server.url}/crm/deal/details/77/"' in page.text
            csrf = str(web.cookies.get("kop_csrf"))
            granted = await web.post(f"{path}/grant", data={
                "reason": "review", "amount": "", "comment": "отзыв в 2ГИС", "key": "a1",
                "csrf": csrf})  # fmt: skip
            said = (await web.get(granted.headers["location"])).text
            assert "Начислено: 500" in said
            card = await web.post(f"{path}/card", data={"csrf": csrf})
            issued = (await web.get(card.headers["location"])).text
            assert "Карта выпущена: +79161234567" in issued
        await h.settle()
        comments = h.call(
            "crm.timeline.comment.list", {"filter": {"ENTITY_TYPE": "contact", "ENTITY_ID": anna}}
        )
        assert any("+500" in c["COMMENT"] and "admin:olga" in c["COMMENT"] for c in comments)
        async with h.engine.connect() as conn:
            audited = (
                await conn.execute(
                    text(
                        "SELECT action, subject FROM audit_log WHERE actor = 'admin:olga' "
                        "AND action <> 'user.signed_in' ORDER BY id"
                    )
                )
            ).all()
        assert [tuple(r) for r in audited] == [
            ("grant.posted", f"customer:{customer}"),
            ("card.issued", f"contact:{anna}"),
        ]


async def test_the_portal_admin_goes_from_the_app_page_to_the_admin_as_owner(
    committed_engine: AsyncEngine,
) -> None:
    async with kopilka_on_emulator(committed_engine, program=TRAVEL, app=True) as h:
        async with httpx.AsyncClient(base_url=h.web_url, timeout=60) as web:
            manager = await web.post(
                "/b24/app", params={"DOMAIN": h.portal.domain, "PROTOCOL": "0", "LANG": "ru"},
                data=placement_form(h, 2, 0, "DEFAULT") | {"PLACEMENT_OPTIONS": ""},
            )  # fmt: skip
            assert manager.status_code == 200
            assert 'id="to-admin"' not in manager.text  # no button for a manager…
            refused = await web.post("/admin/from-b24", data={"sid": meta_sid(manager.text)})
            assert refused.status_code == 403  # …nor a way in
            owner = await web.post(
                "/b24/app", params={"DOMAIN": h.portal.domain, "PROTOCOL": "0", "LANG": "ru"},
                data=placement_form(h, 1, 0, "DEFAULT") | {"PLACEMENT_OPTIONS": ""},
            )  # fmt: skip
            assert 'id="to-admin"' in owner.text
            handed = await web.post("/admin/from-b24", data={"sid": meta_sid(owner.text)})
            link = handed.headers["location"]
            token = link.split("token=")[1]
            await web.get(link)
            entered = await web.post(
                "/admin/handover", data={"token": token, "csrf": str(web.cookies.get("kop_csrf"))}
            )
            assert entered.status_code == 303
            people = await web.get("/admin/people")
        assert people.status_code == 200
        assert "· владелец" in people.text
        assert "b24-" in people.text  # the owner made for the portal's administrator
