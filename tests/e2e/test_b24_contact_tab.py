"""The «Бонусы» tab on a contact (issue 17 item 3) and who may grant how much (item 5), over HTTP
on the emulated portal: the numbers the ledger has, a grant by the Bitrix24 user looking at the
tab within the program's limits and their own, refusals that write nothing, the owner's page."""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.db.tables import ledger_transactions
from kopilka.ledger.accrual import accrue
from kopilka.ledger.book import ensure_customer
from kopilka.lifecycle.service import active_program
from kopilka.process.devstack import APP_ID
from tests.b24harness import Harness, kopilka_on_emulator
from tests.factories import ref

pytestmark = pytest.mark.timeout(180)
TRAVEL = "travel-club.yaml"  # review: 500 once a year; apology: ≤ 3 000, 10 000 a month


def placement_form(h: Harness, user_id: int, entity: int, placement: str) -> dict[str, Any]:
    tokens = h.portal.issue_tokens(APP_ID, user_id=user_id)
    return {
        "AUTH_ID": tokens["access_token"],
        "AUTH_EXPIRES": "3600",
        "REFRESH_ID": tokens["refresh_token"],
        "APPLICATION_TOKEN": h.portal.auth.apps[APP_ID].application_token,
        "member_id": h.portal.member_id,
        "status": "L",
        "PLACEMENT": placement,
        "PLACEMENT_OPTIONS": json.dumps({"ID": str(entity)}),
    }


class Tab:
    """A manager's open tab: its session, and its forms posted as the page posts them."""

    def __init__(self, web: httpx.AsyncClient, page: httpx.Response, entity: int) -> None:
        assert page.status_code == 200, page.text
        self.web, self.entity, self.page = web, entity, page
        self.sid = meta_sid(page.text)

    async def post(self, path: str, **fields: str) -> httpx.Response:
        data = {"sid": self.sid, "entity": str(self.entity), **fields}
        self.page = await self.web.post(path, data=data)
        return self.page

    async def grant(self, reason: str, amount: str = "", comment: str = "", key: str = "") -> str:
        key = key or secrets.token_urlsafe(16)
        page = await self.post(
            "/b24/app/contact/grant", reason=reason, amount=amount, comment=comment, key=key
        )
        return notice(page.text)


def meta_sid(html: str) -> str:
    return html.split('name="kopilka-session" content="')[1].split('"')[0]


def notice(html: str) -> str:
    found = re.search(r'<div id="notice" class="notice (\w+)"[^>]*>(.*?)</div>', html, re.S)
    assert found, "the page says nothing about the form"
    return f"{found.group(1)}: {found.group(2).strip()}".replace("\u00a0", " ")


def shown(html: str, element: str) -> str:
    found = re.search(rf'id="{element}">([^<]*)<', html)
    assert found, element
    return found.group(1).strip()


async def open_tab(
    h: Harness, web: httpx.AsyncClient, user_id: int, contact: int, lang: str = "ru"
) -> Tab:
    page = await web.post(
        "/b24/app/contact",
        params={"DOMAIN": h.portal.domain, "PROTOCOL": "0", "LANG": lang},
        data=placement_form(h, user_id, contact, "CRM_CONTACT_DETAIL_TAB"),
    )
    return Tab(web, page, contact)


async def with_points(h: Harness, contact: int, points: int, reference: str = "") -> None:
    async with h.engine.begin() as conn:
        book, _ = await active_program(conn, h.connection.portal_id, h.services.now())
        customer = await ensure_customer(conn, h.connection.portal_id, f"contact:{contact}")
        await accrue(
            conn, book, customer_id=customer, amount=points * 100, key=ref("k"),
            reason="5% от суммы заказа", actor="sync", now=h.services.now(), reference=reference,
        )  # fmt: skip


async def grants(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return (
            await conn.execute(
                select(ledger_transactions)
                .where(ledger_transactions.c.rule_id.like("manual:%"))
                .order_by(ledger_transactions.c.id)
            )
        ).all()


async def count_tx(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(ledger_transactions)) or 0)


async def test_the_tab_shows_the_ledger_and_a_manager_grants_a_review_bonus_once(
    committed_engine: AsyncEngine,
) -> None:
    async with kopilka_on_emulator(committed_engine, program=TRAVEL, app=True) as h:
        anna = h.add_contact("Анна")
        await with_points(h, anna, 150, reference="deal:77")
        async with httpx.AsyncClient(base_url=h.web_url) as web:
            tab = await open_tab(h, web, 2, anna)
            html = tab.page.text
            assert shown(html, "available") == "150"
            assert shown(html, "pending") == "0"
            assert "Бонус за отзыв" in html
            assert "Бонус-извинение" in html
            assert 'data-open-path="/crm/deal/details/77/"' in html  # the entry's deal
            assert f'href="{h.server.url}/crm/deal/details/77/"' in html
            # A review bonus by Мария (user 2), the program's default amount.
            key = secrets.token_urlsafe(16)
            said = await tab.grant("review", comment="отзыв на сайте", key=key)
            assert said == "ok: Начислено 500 баллов: Бонус за отзыв: отзыв на сайте."
            assert shown(tab.page.text, "available") == "650"
            assert "начислил(а): Мария Соколова" in tab.page.text
            # The same form sent twice (a double click, a reload) posts once.
            again = await tab.grant("review", comment="отзыв на сайте", key=key)
            assert again.startswith("ok: Начислено 500 баллов")
            assert "повторно" in again
            assert shown(tab.page.text, "available") == "650"
            (entry,) = await grants(h.engine)
            assert entry.actor == "b24:user:2 Мария Соколова"
            assert entry.rule_inputs["comment"] == "отзыв на сайте"
            assert entry.rule_inputs["granter"] == "b24:user:2"
            assert entry.rule_inputs["granter_limit"] is None  # no limit set for managers
            # Over the program's limits: refused in the manager's words, nothing written.
            before = await count_tx(h.engine)
            said = await tab.grant("review", comment="ещё отзыв")
            assert tab.page.status_code == 422
            assert said == (
                "error: «Бонус за отзыв»: лимит для контакта — 500 баллов в год, осталось "
                "0 баллов. Ничего не начислено."
            )
            said = await tab.grant("apology", amount="3500", comment="задержка")
            assert said == (
                "error: «Бонус-извинение»: не больше 3 000 баллов за одно начисление. "
                "Ничего не начислено."
            )
            said = await tab.grant("apology", amount="100")
            assert said == "error: «Бонус-извинение»: нужен комментарий — за что начисляете."
            assert await count_tx(h.engine) == before
            assert shown(tab.page.text, "available") == "650"
        await h.settle()
        fields = h.call("crm.contact.get", {"id": anna})
        comments = h.call(
            "crm.timeline.comment.list", {"filter": {"ENTITY_TYPE": "contact", "ENTITY_ID": anna}}
        )
        assert any("Мария Соколова" in c["COMMENT"] for c in comments), comments
        assert fields["ID"] == str(anna)


async def test_each_manager_is_held_to_their_own_limit_which_the_owner_sets(
    committed_engine: AsyncEngine,
) -> None:
    async with kopilka_on_emulator(committed_engine, program=TRAVEL, app=True) as h:
        assert h.portal.add_user("Олег", "Смирнов") == 3
        anna, boris = h.add_contact("Анна"), h.add_contact("Борис")
        async with httpx.AsyncClient(base_url=h.web_url) as web:
            # A manager cannot open the owner's page.
            page = await web.post(
                "/b24/app/permissions", data=placement_form(h, 2, anna, "DEFAULT")
            )
            assert page.status_code == 403
            maria = await open_tab(h, web, 2, anna)
            page = await web.post(
                "/b24/app/permissions/save",
                data={"sid": maria.sid, "who": "manager", "max_total": "99999", "period": "month"},
            )
            assert page.status_code == 403  # her session does not make her an owner
            # The owner (user 1, the portal's administrator): managers 1 000 a month, Олег 300.
            page = await web.post(
                "/b24/app/permissions", data=placement_form(h, 1, anna, "DEFAULT")
            )
            assert page.status_code == 200, page.text
            assert 'id="no-limits"' in page.text
            owner = meta_sid(page.text)
            for who, amount, name in (("manager", "1\u00a0000", ""), ("3", "300", "Олег Смирнов")):
                page = await web.post(
                    "/b24/app/permissions/save",
                    data={"sid": owner, "who": who, "user_name": name, "max_total": amount,
                          "period": "month"},
                )  # fmt: skip
                assert notice(page.text) == "ok: Лимит сохранён."
            assert "Олег Смирнов" in page.text
            assert "Все менеджеры" in page.text
            # Олег grants 300 and is then over his own limit; Мария still has her 1 000.
            oleg = await open_tab(h, web, 3, boris)
            assert "Ваш лимит начислений: 300 баллов в месяц, осталось 300 баллов" in oleg.page.text
            assert (await oleg.grant("apology", "300", "опоздание")).startswith("ok:")
            before = await count_tx(h.engine)
            said = await oleg.grant("apology", "100", "ещё опоздание")
            assert said == (
                "error: Превышен ваш лимит начислений: 300 баллов в месяц, осталось 0 баллов. "
                "Ничего не начислено. Лимит меняет администратор портала."
            )
            assert await count_tx(h.engine) == before
            assert (await maria.grant("apology", "600", "сорванный тур")).startswith("ok:")
            said = await maria.grant("apology", "500", "ещё один")
            assert "осталось 400 баллов" in said
            # The owner raises Олег's limit; his next grant passes, counted under his own limit.
            page = await web.post(
                "/b24/app/permissions/save",
                data={"sid": owner, "who": "3", "max_total": "1000", "period": "month"},
            )
            assert notice(page.text) == "ok: Лимит сохранён."
            assert "Олег Смирнов" in page.text  # the name already known is kept
            back = await web.post("/b24/app", data={"sid": owner})  # «← К настройкам»
            assert back.status_code == 200, back.text
            assert (await oleg.grant("apology", "100", "ещё опоздание")).startswith("ok:")
        done = await grants(h.engine)
        applied = [
            (g.rule_inputs["granter"], g.rule_inputs["granter_limit"]["applied"]) for g in done
        ]
        assert applied == [
            ("b24:user:3", "user:3"),
            ("b24:user:2", "role:manager"),
            ("b24:user:3", "user:3"),
        ]
        assert done[2].rule_inputs["granter_limit"]["granted_before"] == 30000


async def test_a_forged_session_or_token_grants_nothing(committed_engine: AsyncEngine) -> None:
    async with kopilka_on_emulator(committed_engine, program=TRAVEL, app=True) as h:
        anna = h.add_contact("Анна")
        async with httpx.AsyncClient(base_url=h.web_url) as web:
            fields = {"entity": str(anna), "reason": "review", "comment": "x",
                      "key": secrets.token_urlsafe(16)}  # fmt: skip
            page = await web.post(
                "/b24/app/contact/grant", data={"sid": secrets.token_urlsafe(32), **fields}
            )
            assert page.status_code == 401
            forged = placement_form(h, 2, anna, "CRM_CONTACT_DETAIL_TAB")
            forged["AUTH_ID"] = secrets.token_hex(16)  # a token the portal never issued
            page = await web.post("/b24/app/contact/grant", data={**forged, **fields})
            assert page.status_code == 401
            foreign = placement_form(h, 2, anna, "CRM_CONTACT_DETAIL_TAB")
            foreign["APPLICATION_TOKEN"] = secrets.token_hex(16)  # another app's
            page = await web.post("/b24/app/contact/grant", data={**foreign, **fields})
            assert page.status_code == 401
            page = await web.post(
                "/b24/app/permissions/save",
                data={"sid": secrets.token_urlsafe(32), "who": "manager", "max_total": "0",
                      "period": "day"},
            )  # fmt: skip
            assert page.status_code == 401
        assert await grants(h.engine) == []


async def test_the_level_the_deals_and_the_card_are_on_the_tab(
    committed_engine: AsyncEngine,
) -> None:
    async with kopilka_on_emulator(committed_engine, program="car-service.yaml", app=True) as h:
        phone = {"PHONE": [{"VALUE": "+7 916 123-45-67", "VALUE_TYPE": "MOBILE"}]}
        anna = int(h.call("crm.contact.add", {"fields": {"NAME": "Анна", **phone}}))
        boris = h.add_contact("Борис")  # no phone
        async with httpx.AsyncClient(base_url=h.web_url) as web:
            tab = await open_tab(h, web, 2, anna)
            assert 'id="no-customer"' in tab.page.text  # no account yet: zeros, still usable
            assert shown(tab.page.text, "available") == "0"
            assert 'id="next-level">До уровня «Серебряный»: ещё сделок: 1<' in tab.page.text
            assert 'id="no-reasons"' in tab.page.text  # the program has no manual reasons
            assert 'id="card-number">—' in tab.page.text
            deal = h.add_deal(anna, "10000")
            h.move(deal, "WON")
            await h.settle()
            await tab.post("/b24/app/contact")
            assert "Серебряный" in tab.page.text
            assert "До уровня «Золотой»: ещё сделок: 2" in tab.page.text
            await tab.post("/b24/app/contact/card")
            assert notice(tab.page.text) == "ok: Карта +79161234567 выпущена."
            assert shown(tab.page.text, "card-number") == "+79161234567"
            no_phone = await open_tab(h, web, 2, boris)
            await no_phone.post("/b24/app/contact/card")
            assert notice(no_phone.page.text).startswith("error: Карта не выпущена: у контакта нет")
            for n in range(22):  # 22 entries: a page of 20, then the 2 oldest
                await with_points(h, boris, n + 1)
            pages = await open_tab(h, web, 2, boris)
            first = re.findall(r'data-entry="(\d+)"', pages.page.text)
            assert len(first) == 20
            assert 'id="older"' in pages.page.text
            await pages.post("/b24/app/contact", before=first[-1])
            rest = re.findall(r'data-entry="(\d+)"', pages.page.text)
            assert [int(x) for x in rest] == sorted((int(x) for x in rest), reverse=True)
            assert len(rest) == 2
            assert int(rest[0]) < int(first[-1])
            assert 'id="older"' not in pages.page.text
            english = await open_tab(h, web, 2, boris, lang="en")  # a portal in English
            assert "<h1>Bonus points</h1>" in english.page.text
            assert "To «Серебряный»: deals to go: 1" in english.page.text
            await english.post("/b24/app/contact/card")
            assert notice(english.page.text).startswith("error: No card: the contact has no phone")
