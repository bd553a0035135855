"""The contact's «Бонусы» tab in the emulated portal's card, in real Chromium (issue 17 items 3
and 5): a manager grants a review bonus and sees the balance change; another manager over their
own limit is refused and nothing changes. Screenshots at 1280×800 in ``var/screenshots/``."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.b24app.permissions import set_limit
from kopilka.db.engine import run_in_transaction
from tests.browser.b24portal import PortalUI, b24_fixture, open_app, open_card

__all__ = ["b24_fixture"]
pytestmark = pytest.mark.timeout(180)
B24_OPTIONS = {"program": "travel-club.yaml"}  # review 500 a year; apology up to 3 000


async def grant(frame: Any, reason: str, amount: str, comment: str) -> str:
    """Fill the tab's grant form (``frame``: the tab's playwright Frame) as a manager does and
    send it; what the page then says."""
    await frame.select_option("#grant-reason", reason)
    await frame.fill("#grant-amount", amount)
    await frame.fill("#grant-comment", comment)
    await frame.click("#grant-submit")
    notice = await frame.wait_for_selector("#notice")
    return str(await notice.inner_text())


async def test_a_manager_grants_a_review_bonus_and_one_over_quota_is_refused(b24: PortalUI) -> None:
    h = b24.stack
    oleg = h.portal.add_user("Олег", "Смирнов")
    anna = h.add_contact("Анна")

    async def limit(conn: AsyncConnection) -> None:  # as the owner set it on the app's page
        await set_limit(
            conn, h.connection.portal_id, user_id=oleg, user_name="Олег Смирнов",
            max_total=300_00, period="month", actor="b24:user:1 Иван Петров", now=h.services.now(),
        )  # fmt: skip

    await run_in_transaction(h.engine, limit)

    frame = await open_card(b24.page, "contact", anna, as_user=2)
    assert await frame.inner_text("#available") == "0"
    said = await grant(frame, "review", "", "отзыв на сайте")
    assert said == "Начислено 500 баллов: Бонус за отзыв: отзыв на сайте."
    assert await frame.inner_text("#available") == "500"
    assert "начислил(а): Мария Соколова" in await frame.inner_text("#ledger")
    await b24.shot("b24-contact-tab-granted")

    frame = await open_card(b24.page, "contact", anna, as_user=oleg)
    assert "осталось 300 баллов" in await frame.inner_text("#my-limit")
    said = await grant(frame, "apology", "500", "задержка вылета")
    assert said.startswith("Превышен ваш лимит начислений: 300 баллов в месяц, осталось 300")
    assert await frame.get_attribute("#notice", "class") == "notice error"
    assert await frame.inner_text("#available") == "500"  # nothing was written
    assert await frame.input_value("#grant-comment") == "задержка вылета"  # kept to correct
    await b24.shot("b24-contact-tab-over-quota")


async def test_the_owner_sets_a_managers_limit_on_the_permissions_page(b24: PortalUI) -> None:
    h = b24.stack
    oleg = h.portal.add_user("Олег", "Смирнов")
    anna = h.add_contact("Анна")
    frame = await open_app(b24.page, as_user=1)
    # The settings page's way to «Кто сколько может начислять»: a form carrying the page's session.
    await frame.evaluate(
        """() => {
          const form = document.createElement("form");
          form.method = "post";
          form.action = "/b24/app/permissions";
          const sid = document.createElement("input");
          sid.type = "hidden";
          sid.name = "sid";
          sid.value = document.querySelector('meta[name="kopilka-session"]').content;
          form.appendChild(sid);
          document.body.appendChild(form);
          form.submit();
        }"""
    )
    await frame.wait_for_selector("#limit-form")
    await frame.fill("#limit-who", str(oleg))
    await frame.fill("#limit-name", "Олег Смирнов")
    await frame.fill("#limit-max", "200")
    await frame.select_option("#limit-period", "week")
    await frame.click("#limit-save")
    await frame.wait_for_selector("#notice")
    assert await frame.inner_text("#notice") == "Лимит сохранён."
    row = await frame.inner_text(f'tr[data-limit="user:{oleg}"]')
    assert "Олег Смирнов" in row
    assert "200 баллов" in row
    assert "Иван Петров" in row  # who changed it
    await b24.shot("b24-permissions")

    frame = await open_card(b24.page, "contact", anna, as_user=oleg)
    assert "200 баллов в неделю" in await frame.inner_text("#my-limit")
