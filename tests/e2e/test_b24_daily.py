"""The daily run end to end with the travel club's program (seeds 002 and 004, scenario S5): deals
won in the emulated portal and synced over HTTP, then the clock moved on.

* The event cashback of 2025 expires at 00:00 on 1 January, Moscow time; the service was down
  over New Year, so it runs on 3 January: once, dated when it was due, with the contacts' fields.
* Deals edited and deleted while the portal's events were lost: the daily run (lost deletions,
  then the sweep, then every contact) puts the right yearly totals on the contact.

The worker is not started: the test drives the syncs itself, so nothing else runs meanwhile.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from b24emu import Faults, Portal
from b24emu.seed import STANDARD_STAGES, add_category
from kopilka.bitrix24.daily import EXPIRY, flush, run_daily
from kopilka.db.tables import ledger_transactions
from kopilka.process.devstack import emulated_portal
from tests.b24harness import Harness, kopilka_on_emulator

pytestmark = pytest.mark.timeout(240)

TRIPS, EVENTS = 0, 2
CASHBACK, TRIPS_WON = "UF_CRM_KOP_CASHBACK", "UF_CRM_KOP_WON_DEALS"
MSK = "+03:00"


def travel_portal() -> Portal:
    """The club's portal: «Путешествия» (0), «Мероприятия» (2), «Кино и спектакли» (3)."""
    portal = emulated_portal("empty")
    portal.deal_categories[0]["name"] = "Путешествия"
    add_category(portal, EVENTS, "Мероприятия", 200, STANDARD_STAGES)
    add_category(portal, 3, "Кино и спектакли", 300, STANDARD_STAGES)
    return portal


@pytest.fixture
async def h(committed_engine: AsyncEngine) -> AsyncIterator[Harness]:
    async with kopilka_on_emulator(
        committed_engine, program="travel-club.yaml", portal=travel_portal(), worker=False
    ) as stack:
        yield stack


def clock(h: Harness, moment: str) -> None:
    fixed = datetime.fromisoformat(moment)
    h.services.now = lambda: fixed


async def synced(h: Harness) -> None:
    """Deliver the portal's events, then sync what they hinted (as the worker would)."""
    await h.portal.flush_events()
    await flush(h.services, h.connection)


def won(h: Harness, contact: int, amount: str, category: int) -> int:
    deal = h.add_deal(contact, amount, category=category)
    h.move(deal, "WON" if category == TRIPS else f"C{category}:WON")
    return deal


def timeline(h: Harness, contact: int) -> list[str]:
    items = h.call(
        "crm.timeline.comment.list",
        {"filter": {"ENTITY_ID": contact, "ENTITY_TYPE": "contact"}, "order": {"ID": "ASC"}},
    )
    return [str(c["COMMENT"]).replace("\u00a0", " ") for c in items]


async def expiries(h: Harness) -> list[Any]:
    async with h.engine.connect() as conn:
        rows = await conn.execute(
            select(ledger_transactions.c.effective_at, func.count())
            .where(ledger_transactions.c.kind == "expiry")
            .group_by(ledger_transactions.c.effective_at)
        )
        return [(r[0].isoformat(), r[1]) for r in rows]


async def test_event_cashback_expires_on_new_year_when_the_service_was_down(h: Harness) -> None:
    anna, boris = h.add_contact("Анна"), h.add_contact("Борис")
    clock(h, f"2025-12-10T12:00:00{MSK}")
    won(h, anna, "5000", EVENTS)  # +1 000 each: the events pipeline's fixed cashback
    won(h, anna, "3000", EVENTS)
    won(h, boris, "4000", EVENTS)
    won(h, anna, "90000", TRIPS)  # a trip earns no cashback
    await synced(h)
    assert [h.contact(c)[CASHBACK] for c in (anna, boris)] == ["2000", "1000"]

    # Back on 3 January after the holidays: 2025's cashback is gone, once, as of 1 January 00:00.
    clock(h, f"2026-01-03T10:00:00{MSK}")
    report = await run_daily(h.services, h.connection.portal_id)
    assert report.ran == ["expiry", "birthdays", "totals"]
    assert (report.expired_entries, report.expired_points) == (2, 3_000_00)
    assert await expiries(h) == [("2025-12-31T21:00:00+00:00", 2)]
    assert [h.contact(c)[CASHBACK] for c in (anna, boris)] == ["0", "0"]
    assert (await h.balance(anna)).available == 0
    assert h.contact(anna)[TRIPS_WON] == "3"  # won deals, every pipeline
    assert timeline(h, anna)[-1].startswith(
        "Копилка: сгорело 2 000 бонусов — баллы сгорели: срок истёк 01.01.2026 00:00"
    )

    # Later that day, and the day after: nothing more expires, nothing is written again.
    clock(h, f"2026-01-03T18:00:00{MSK}")
    report = await run_daily(h.services, h.connection.portal_id)
    assert (report.ran, report.expired_entries, report.sync.writes) == ([EXPIRY], 0, 0)
    clock(h, f"2026-01-04T10:00:00{MSK}")
    report = await run_daily(h.services, h.connection.portal_id)
    assert report.expired_entries == 0
    assert await expiries(h) == [("2025-12-31T21:00:00+00:00", 2)]

    # Cashback of the new year stands until its own New Year.
    won(h, anna, "2000", EVENTS)
    await synced(h)
    assert h.contact(anna)[CASHBACK] == "1000"
    clock(h, f"2026-12-31T23:59:00{MSK}")
    assert (await run_daily(h.services, h.connection.portal_id)).expired_entries == 0
    assert h.contact(anna)[CASHBACK] == "1000"


def totals_fields(h: Harness) -> None:
    """The yearly totals fields the club keeps on its contacts (made once, as an integrator)."""
    have = {f["FIELD_NAME"] for f in h.call("crm.contact.userfield.list", {})}
    for year in range(2021, 2028):
        for kind in ("TRAVEL", "EVENTS"):
            if f"UF_CRM_{kind}_{year}" not in have:
                h.call(
                    "crm.contact.userfield.add",
                    {"fields": {"FIELD_NAME": f"{kind}_{year}", "USER_TYPE_ID": "double"}},
                )


def totals(h: Harness, contact: int) -> tuple[str, str, str]:
    card = h.contact(contact)
    return card["UF_CRM_TRAVEL_2026"], card["UF_CRM_EVENTS_2026"], card[CASHBACK]


async def test_daily_refresh_repairs_totals_after_lost_events(h: Harness) -> None:
    totals_fields(h)
    anna, boris = h.add_contact("Анна"), h.add_contact("Борис")
    clock(h, f"2026-06-01T12:00:00{MSK}")
    trip = won(h, anna, "100000", TRIPS)
    show = won(h, anna, "3000", EVENTS)
    boris_trip = won(h, boris, "50000", TRIPS)
    await synced(h)
    assert totals(h, anna) == ("100000", "3000", "1000")
    assert totals(h, boris) == ("50000", "0", "0")

    # The portal's events are lost: the trip is re-priced after it was won, the show deleted,
    # Boris's trip moved back to work.
    h.portal.faults = Faults(drop_events=1.0)
    h.call(
        "crm.deal.productrows.set",
        {"id": trip, "rows": [{"PRODUCT_NAME": "Тур", "PRICE": "80000", "QUANTITY": 1}]},
    )
    h.call("crm.deal.delete", {"id": show})
    h.move(boris_trip, "PREPARATION")
    await synced(h)
    assert totals(h, anna) == ("100000", "3000", "1000")  # nothing arrived

    # The next day's run finds the deleted deal, sweeps the edited ones, refreshes everybody.
    clock(h, f"2026-06-02T04:00:00{MSK}")
    report = await run_daily(h.services, h.connection.portal_id)
    assert report.vanished_deals == 1
    assert report.sync.deals >= 3
    assert totals(h, anna) == ("80000", "0", "0")
    assert totals(h, boris) == ("0", "0", "0")
    assert h.contact(anna)[TRIPS_WON] == "1"
    assert h.contact(anna)["UF_CRM_TRAVEL_2025"] == "0"

    # Run again the same day: the daily part does not repeat; nothing changes.
    h.portal.faults = Faults()
    report = await run_daily(h.services, h.connection.portal_id)
    assert (report.ran, report.sync.writes) == ([EXPIRY], 0)
