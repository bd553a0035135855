"""On the command line against an emulated portal over HTTP: ``kopilka sync --totals`` backfills
the yearly totals of past years from deals won before Kopilka was connected, and ``kopilka
daily`` sets the birthday checkbox (travel club, seed 004)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from b24emu import EmuServer, Portal
from b24emu.seed import STANDARD_STAGES, add_category
from kopilka.process.devstack import emulated_portal
from tests.e2e.conftest import TRAVEL, call, kopilka

pytestmark = pytest.mark.timeout(180)


def won_before(portal: Portal, contact: int, amount: int, category: int, closed: str) -> None:
    deal = call(
        portal,
        "crm.deal.add",
        {
            "fields": {
                "CATEGORY_ID": category,
                "STAGE_ID": "NEW" if category == 0 else f"C{category}:NEW",
                "CONTACT_ID": contact,
            }
        },
    )
    call(
        portal,
        "crm.deal.productrows.set",
        {"id": deal, "rows": [{"PRODUCT_NAME": "Поездка", "PRICE": amount, "QUANTITY": 1}]},
    )
    stage = "WON" if category == 0 else f"C{category}:WON"
    call(
        portal, "crm.deal.update", {"id": deal, "fields": {"STAGE_ID": stage, "CLOSEDATE": closed}}
    )


def test_sync_totals_backfills_past_years_and_daily_sets_birthdays(database: str) -> None:
    portal = emulated_portal("empty")
    add_category(portal, 2, "Мероприятия", 200, STANDARD_STAGES)
    today = datetime.now(ZoneInfo("Europe/Moscow")).date()  # the program's day
    with EmuServer(portal):
        anna = call(
            portal,
            "crm.contact.add",
            {"fields": {"NAME": "Анна", "BIRTHDATE": (today + timedelta(days=3)).isoformat()}},
        )
        boris = call(portal, "crm.contact.add", {"fields": {"NAME": "Борис"}})
        this_year = today.year
        won_before(portal, anna, 120000, 0, f"{this_year - 2}-05-05")
        won_before(portal, anna, 80000, 0, f"{this_year - 2}-09-01")
        won_before(portal, anna, 3000, 2, f"{this_year - 1}-03-03")
        won_before(portal, boris, 60000, 0, f"{this_year - 4}-07-07")
        for year in range(this_year - 5, this_year + 1):
            for kind in ("TRAVEL", "EVENTS"):
                call(
                    portal,
                    "crm.contact.userfield.add",
                    {"fields": {"FIELD_NAME": f"{kind}_{year}", "USER_TYPE_ID": "double"}},
                )
        webhook = portal.add_webhook(user_id=1, scopes=("crm", "user", "lists"))
        token = portal.add_outgoing_webhook("http://127.0.0.1:9/b24/events", ("ONCRMDEALUPDATE",))
        code, output = kopilka(
            "connect", "--webhook", webhook, "--event-token", token, "--program", TRAVEL,
            "--member-id", portal.member_id,
        )  # fmt: skip
        assert code == 0, output
        assert kopilka("provision")[0] == 0

        code, output = kopilka("sync", "--totals")
        assert code == 0, output
        assert "4 deals checked" in output, output
        card = call(portal, "crm.contact.get", {"id": anna})
        assert card[f"UF_CRM_TRAVEL_{this_year - 2}"] == "200000"
        assert card[f"UF_CRM_EVENTS_{this_year - 1}"] == "3000"
        assert card[f"UF_CRM_TRAVEL_{this_year}"] == "0"
        assert card["UF_CRM_KOP_WON_DEALS"] == "3"
        card = call(portal, "crm.contact.get", {"id": boris})
        assert card[f"UF_CRM_TRAVEL_{this_year - 4}"] == "60000"

        code, output = kopilka("daily", "--json")
        assert code == 0, output
        report = json.loads(output)
        assert report["ran"] == ["expiry", "birthdays", "totals"]
        assert (report["birthdays_on"], report["refreshed_contacts"]) == (1, 2)
        assert call(portal, "crm.contact.get", {"id": anna})["UF_CRM_BIRTHDAY_WINDOW"] == "1"
        code, output = kopilka("daily")
        assert code == 0, output
        assert "ran expiry" in output, output
        assert "birthdays:" not in output, output
        code, output = kopilka("daily", "--force", "--only", "birthdays")
        # only the contacts whose birthday is near, or whose box is ticked, are read (Anna)
        assert "birthdays: 1 contacts read, 0 flags set, 0 cleared" in output, output
