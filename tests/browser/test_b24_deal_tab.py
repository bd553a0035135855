"""The deal's «Бонусы» tab in real Chromium, inside the emulated portal's deal card (issue 17,
item 4): a two-contact deal of the travel club — Anna pays with her points, Boris takes his
birthday discount — then the deal is won, and the card shows the discounted product rows and
the tab what each paid and earned. Screenshots at 1280×800 in var/screenshots/."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from tests.browser.b24portal import PortalUI, b24_fixture, open_card  # noqa: F401 - the fixture
from tests.e2e.test_b24_frames import with_points
from tests.e2e.test_b24_s5 import won
from tests.portals import EVENTS, new_deal, travel_portal

pytestmark = pytest.mark.timeout(240)

PORTAL, PRODUCTS = travel_portal()  # one test in this module: the portal is used once
B24_OPTIONS = {"program": "travel-club.yaml", "portal": PORTAL}
NBSP = "\u00a0"


async def text(frame: object, selector: str) -> str:
    return str(await frame.inner_text(selector)).replace(NBSP, " ")  # type: ignore[attr-defined]


async def test_pay_for_one_contact_and_a_discount_for_the_other_in_the_deal_card(
    b24: PortalUI,
) -> None:
    h = b24.stack
    anna, boris = h.add_contact("Анна"), h.add_contact("Борис")
    today = h.services.now().astimezone(ZoneInfo("Europe/Moscow")).date()
    h.call(
        "crm.contact.update",
        {"id": boris, "fields": {"BIRTHDATE": today.replace(year=1990).isoformat()}},
    )
    await h.settle()  # the birthday known before the deal is opened
    show = new_deal(h, [anna, boris], category=EVENTS, rows=((PRODUCTS["concert"], 6000),))
    await h.settle()
    await with_points(h, anna, 1000)

    frame = await open_card(b24.page, "deal", show, as_user=2)
    assert await text(frame, f"#cap-{anna}") == "1 000"  # shown before typing
    assert "10 % — 300 ₽" in await text(frame, f"#offer-{boris}-birthday")
    await b24.shot("b24-deal-tab-offers")

    await frame.fill(f"#form-{anna} input[name=points]", "500")
    async with frame.expect_navigation():  # the form's answer replaces the tab's page
        await frame.click(f"#form-{anna} button[type=submit]")
    assert "Выбор сохранён" in await text(frame, "#notice")
    await frame.fill(f"#form-{boris} input[name=discount_birthday]", "10")
    async with frame.expect_navigation():
        await frame.click(f"#form-{boris} button[type=submit]")
    assert "Выбор сохранён" in await text(frame, "#notice")
    await h.settle()

    frame = await open_card(b24.page, "deal", show, as_user=2)
    assert await text(frame, f"#held-{anna}") == "500"
    assert "Мария Соколова" in await text(frame, f"#chosen-{boris}")
    await b24.shot("b24-deal-tab-chosen")

    h.move(show, won(EVENTS))
    await h.settle()
    # the card's product rows carry the discount: 500 paid with points and Boris's 300 ₽
    await b24.page.goto(f"/portal/crm/deal/details/{show}/?as=2")
    sums = await b24.page.locator("#deal-rows .deal-row .sum").all_inner_texts()
    assert sum(float(s) for s in sums) == 5200
    discounts = await b24.page.locator("#deal-rows .deal-row .discount-sum").all_inner_texts()
    assert sum(float(d or 0) for d in discounts) == 800
    await b24.shot("b24-deal-won-rows")
    frame = await open_card(b24.page, "deal", show, as_user=2)
    # the tab: Anna paid 500; each earned the events' cashback of 1 000
    assert await text(frame, f"#paid-{anna}") == "500"
    assert await text(frame, f"#earns-{anna}") == "1 000"
    assert await text(frame, f"#earns-{boris}") == "1 000"
    assert (await h.balance(anna)).available == 1000_00 - 500_00 + 1000_00
    assert (await h.balance(boris)).available == 1000_00
    await b24.shot("b24-deal-tab-won")
