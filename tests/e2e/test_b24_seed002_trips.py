"""Seed 002, R-15/R-16 (issue 15 item 5), end to end on the emulated portal: the trip dates
copied from the product into the deal hold after the win, although the portal sets the deal's
close date to the day it is won; the trip is counted in the contact's yearly total of the trip's
year, not of the win; with several product rows the copies come from the trip.
"""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from b24emu.catalog import add_product
from tests.b24harness import Harness, kopilka_on_emulator
from tests.portals import new_deal, travel_portal

pytestmark = pytest.mark.timeout(240)


def total(h: Harness, contact: int, code: str) -> float:
    return float(h.contact(contact).get(code) or 0)


@pytest.mark.parametrize("close_date_sync", [True, False], ids=["close-date-sync", "no-sync"])
async def test_trip_dates_hold_after_the_win_and_count_for_the_trip_year(
    committed_engine: AsyncEngine, close_date_sync: bool
) -> None:
    portal, _ = travel_portal()
    portal.close_date_sync = close_date_sync
    today = portal.today()
    trip_year = today.year + 1  # won this year for a trip next spring
    props = {
        str(p["CODE"]): str(p["ID"]) for p in portal.call("crm.product.property.list", {})["result"]
    }
    norway = add_product(
        portal,
        {
            "NAME": f"Норвегия {trip_year}",
            "CODE": "NOR",
            "PRICE": 300000,
            f"PROPERTY_{props['HOTEL']}": "Fjord Hotel",
            f"PROPERTY_{props['HEADLINER']}": "Михаил Кожухов",
            f"PROPERTY_{props['DATES']}": f"{trip_year}-03-12",
        },
    )
    insurance = add_product(portal, {"NAME": "Страховка", "CODE": "INS", "PRICE": 3000})
    async with kopilka_on_emulator(
        committed_engine, program="travel-club.yaml", portal=portal
    ) as h:
        # provisioned as a date field, titled as the program says
        trip_field = h.call("crm.deal.fields")["UF_CRM_TRIP_DATES"]
        assert (trip_field["type"], trip_field["formLabel"]) == ("date", "Даты путешествия")
        anna = h.add_contact("Анна")
        # the insurance is the first row: the copies still come from the trip
        deal = new_deal(h, [anna], rows=((insurance, 3000), (norway, 300000)))
        await h.settle()
        shown = h.call("crm.deal.get", {"id": deal})
        assert shown["TITLE"] == f"Норвегия {trip_year}"
        assert shown["UF_CRM_ARTICLE"] == "NOR"
        assert str(shown["UF_CRM_TRIP_DATES"]).startswith(f"{trip_year}-03-12")

        h.move(deal, "WON")
        await h.settle()
        shown = h.call("crm.deal.get", {"id": deal})
        closed = str(shown["CLOSEDATE"])
        assert closed.startswith(today.isoformat()) == close_date_sync
        assert str(shown["UF_CRM_TRIP_DATES"]).startswith(f"{trip_year}-03-12")  # held
        assert shown["TITLE"] == f"Норвегия {trip_year}"
        # the whole order (trip and insurance) in «Путешествия <trip year>», nothing this year
        assert total(h, anna, f"UF_CRM_TRAVEL_{trip_year}") == 303000
        assert total(h, anna, f"UF_CRM_TRAVEL_{today.year}") == 0

        # a deal won before Kopilka saw it open gets its copies too, and counts the same way
        boris = h.add_contact("Борис")
        quick = new_deal(h, [boris], rows=((norway, 300000),))
        h.move(quick, "WON")
        await h.settle()
        shown = h.call("crm.deal.get", {"id": quick})
        assert str(shown["UF_CRM_TRIP_DATES"]).startswith(f"{trip_year}-03-12")
        assert total(h, boris, f"UF_CRM_TRAVEL_{trip_year}") == 300000
        assert total(h, boris, f"UF_CRM_TRAVEL_{today.year}") == 0

        # the trip moved to the year after by hand on the won deal: the totals follow
        h.call(
            "crm.deal.update",
            {"id": quick, "fields": {"UF_CRM_TRIP_DATES": f"{trip_year + 1}-01-10"}},
        )
        await h.settle()
        assert total(h, boris, f"UF_CRM_TRAVEL_{trip_year}") == 0
