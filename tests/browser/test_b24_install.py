"""Installing Kopilka's local app from scratch in real Chromium, inside the emulated portal
(issue 17 item 1): the admin opens the app, the portal frames Kopilka's installer, which binds
everything and calls ``BX24.installFinish()``; the portal then opens the app page, where the
admin uploads, checks and applies the program; a won deal then earns points that show on the
contact's «Бонусы» tab. Screenshots at desktop size in ``var/screenshots/``."""

from __future__ import annotations

import pytest

from kopilka.bitrix24.connections import find_connection
from kopilka.process.devstack import Stack, example
from tests.browser.b24portal import (  # noqa: F401 - the fixtures
    FreshPortal,
    b24_fresh_fixture,
    install_from_scratch,
    open_card,
)

pytestmark = pytest.mark.timeout(240)


async def test_the_admin_installs_kopilka_from_scratch_and_applies_the_program(
    b24_fresh: FreshPortal,
) -> None:
    page, portal = b24_fresh.page, b24_fresh.portal
    assert not b24_fresh.installed
    frame = await install_from_scratch(page)  # the installer finished, the app page is open
    assert b24_fresh.installed
    body = await frame.inner_text("body")
    assert "Бонусная программа ещё не настроена" in body
    assert "Иван Петров · администратор портала" in body
    await b24_fresh.shot("b24-install-app-page")
    placed = {(p["placement"], p["handler"]) for p in portal.placements}
    assert (
        "CRM_CONTACT_DETAIL_TAB",
        b24_fresh.web_url + "/b24/app/contact",
    ) in placed

    # The program: chosen, checked, applied — all in the app's frame.
    path, _source = example("retail-wholesale.yaml")
    await frame.set_input_files("#upload input[name=file]", str(path))
    await frame.click("#upload button")
    await frame.wait_for_selector("#checked")
    assert "Розница и опт" in await frame.inner_text("#checked")
    await frame.click("#apply button")
    await frame.wait_for_selector("#applied")
    assert "Иван Петров" in await frame.inner_text("#current")
    await b24_fresh.shot("b24-install-program-applied")
    bound = {b.event for b in portal.events.bindings.values()}
    assert {"ONCRMDEALUPDATE", "ONAPPUNINSTALL"} <= bound  # the program's events, now

    # The portal works: a won deal earns points, shown on the contact's tab.
    async with b24_fresh.services.engine.connect() as conn:
        connection = await find_connection(conn, portal.member_id, "")
    assert connection is not None
    h = Stack(portal, b24_fresh.server, b24_fresh.services, connection, b24_fresh.web_url)
    anna = h.add_contact("Анна")
    deal = h.add_deal(anna, "10000")
    h.move(deal, "WON")
    await h.settle()
    tab = await open_card(page, "contact", anna, as_user=1)
    assert (await tab.inner_text("#available")).startswith("500")
    assert str(h.contact(anna)["UF_CRM_KOP_BALANCE"]) == "500"
    await b24_fresh.shot("b24-install-contact-tab")
