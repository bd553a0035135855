"""The harness itself (tests/browser/b24portal.py): Kopilka's «Бонусы» tabs and its app page
open inside the emulated portal in real Chromium, for the user the portal says is there."""

from __future__ import annotations

import pytest

from kopilka.ledger.accrual import accrue
from kopilka.ledger.book import ensure_customer
from kopilka.lifecycle.service import active_program
from tests.browser.b24portal import (  # noqa: F401 - the fixtures
    FreshPortal,
    PortalUI,
    b24_fixture,
    b24_fresh_fixture,
    open_app,
    open_card,
    open_installer,
)
from tests.factories import ref

pytestmark = pytest.mark.timeout(180)


async def test_the_contact_tab_in_the_portal_card(b24: PortalUI) -> None:
    h = b24.stack
    anna = h.add_contact("Анна")
    async with h.engine.begin() as conn:
        book, _ = await active_program(conn, h.connection.portal_id, h.services.now())
        customer = await ensure_customer(conn, h.connection.portal_id, f"contact:{anna}")
        await accrue(
            conn, book, customer_id=customer, amount=150_00, key=ref("k"),
            reason="test", actor="test", now=h.services.now(),
        )  # fmt: skip

    frame = await open_card(b24.page, "contact", anna, as_user=1)
    assert (await frame.inner_text("#available")).startswith("150")
    assert "Иван Петров" in await frame.inner_text("body")
    assert await b24.page.inner_text("#tab-CRM_CONTACT_DETAIL_TAB") == "Бонусы"
    await b24.shot("b24-contact-tab")

    deal = h.add_deal(anna, "1000")
    frame = await open_card(b24.page, "deal", deal, as_user=2)
    assert f"№{deal}" in await frame.inner_text("h1")
    assert "Мария Соколова" in await frame.inner_text("body")

    frame = await open_app(b24.page, as_user=1)
    assert "Иван Петров" in await frame.inner_text("body")
    await b24.shot("b24-app-page")


async def test_a_portal_where_kopilka_is_not_installed_yet(b24_fresh: FreshPortal) -> None:
    """The fresh harness: the admin opening the app gets Kopilka's installer in the frame, with
    the §1.2.4 query; a manager gets the portal's notice; nothing is installed."""
    frame = await open_installer(b24_fresh.page, ready=False)
    assert frame.url.startswith(b24_fresh.web_url + "/b24/app/install?DOMAIN=")
    assert "&PROTOCOL=0&LANG=ru&APP_SID=" in frame.url
    assert not b24_fresh.installed
    await b24_fresh.page.goto("/portal/apps/local.kopilka.demo/?as=2")
    assert "не установлено полностью" in await b24_fresh.page.inner_text("#notice")
