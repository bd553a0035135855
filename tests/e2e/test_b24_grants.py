"""Manual bonuses (R-11) for a contact of a connected portal, on the command line, against an
emulated portal over HTTP with the travel club's program: a review bonus of 500 and an apology
with its reason show on the contact's field and timeline at once; a second review in the same
year and an apology without a reason are refused with the limit named, writing nothing; the
daily run then expires the year's bonuses after New Year."""

from __future__ import annotations

import json

import pytest

from b24emu import EmuServer, Portal
from kopilka.process.devstack import emulated_portal
from tests.e2e.conftest import TRAVEL, call, kopilka

pytestmark = pytest.mark.timeout(180)

CASHBACK = "UF_CRM_KOP_CASHBACK"
JUNE = "2026-06-01T10:00:00+03:00"


def notes(portal: Portal, contact: int) -> list[str]:
    items = call(
        portal,
        "crm.timeline.comment.list",
        {"filter": {"ENTITY_ID": contact, "ENTITY_TYPE": "contact"}, "order": {"ID": "ASC"}},
    )
    return [str(c["COMMENT"]).replace("\u00a0", " ") for c in items]


def connected_portal() -> Portal:
    portal = emulated_portal("empty")
    return portal


def test_review_and_apology_bonuses_in_a_connected_portal(database: str) -> None:
    portal = connected_portal()
    with EmuServer(portal):
        anna = int(call(portal, "crm.contact.add", {"fields": {"NAME": "Анна"}}))
        webhook = portal.add_webhook(user_id=1, scopes=("crm", "user", "lists"))
        token = portal.add_outgoing_webhook("http://127.0.0.1:9/b24/events", ("ONCRMDEALUPDATE",))
        code, output = kopilka(
            "connect", "--webhook", webhook, "--event-token", token, "--program", TRAVEL,
            "--member-id", portal.member_id,
        )  # fmt: skip
        assert code == 0, output
        assert kopilka("provision")[0] == 0

        # A review bonus: the program's 500 by default, granted by Мария.
        code, output = kopilka(
            "grant", f"contact:{anna}", "--reason", "review", "--actor", "Мария", "--now", JUNE
        )
        assert code == 0, output
        assert f"+500 to contact:{anna} — Бонус за отзыв" in output
        assert call(portal, "crm.contact.get", {"id": anna})[CASHBACK] == "500"
        (note,) = notes(portal, anna)
        assert note.startswith("Копилка: +500 бонусов — Бонус за отзыв (выдал: Мария) · запись №")

        # An apology with its reason, the contact named by its bare ID.
        code, output = kopilka(
            "grant", str(anna), "--reason", "apology", "--amount", "1000",
            "--comment", "опоздание трансфера", "--actor", "Мария", "--now", JUNE,
        )  # fmt: skip
        assert code == 0, output
        assert call(portal, "crm.contact.get", {"id": anna})[CASHBACK] == "1500"
        assert "Бонус-извинение: опоздание трансфера (выдал: Мария)" in notes(portal, anna)[-1]

        # Refused, each with its reason, and nothing written in Kopilka or the portal.
        requests = dict(portal.stats.requests_by_method)
        for args, reason in (
            (("--reason", "review"), "limit"),  # 500 a year, already given
            (("--reason", "apology", "--amount", "500"), "comment"),  # a reason is required
            (("--reason", "apology", "--amount", "5000", "--comment", "x"), "per grant"),
            (("--reason", "birthday"), "unknown bonus reason"),
        ):
            code, output = kopilka("grant", str(anna), *args, "--now", JUNE)
            assert code == 2, output
            assert reason in output, output
        assert call(portal, "crm.contact.get", {"id": anna})[CASHBACK] == "1500"
        assert len(notes(portal, anna)) == 2
        writes = ("batch", "crm.contact.update", "crm.timeline.comment.add")
        assert {m: portal.stats.requests_by_method.get(m, 0) for m in writes} == {
            m: requests.get(m, 0) for m in writes
        }

        # Who granted and why, in the ledger.
        code, output = kopilka("history", f"contact:{anna}", "--json", "--portal", portal.member_id)
        assert code == 0, output
        lines = json.loads(output)
        assert [(x["amount"], x["actor"], x["rule_id"]) for x in lines] == [
            (1_000_00, "Мария", "manual:apology"),
            (500_00, "Мария", "manual:review"),
        ]

        # A contact the portal does not have, and a customer that is not a contact.
        code, output = kopilka("grant", "999", "--reason", "review", "--now", JUNE)
        assert (code, "contact 999 is not in portal" in output) == (2, True), output
        code, output = kopilka("grant", "anna", "--reason", "review", "--now", JUNE)
        assert (code, "a portal's customer is a contact ID" in output) == (2, True), output

        # The daily run after New Year: the year's bonuses expire, the field follows.
        code, output = kopilka("daily", "--only", "expiry", "--now", "2027-01-03T10:00:00+03:00")
        assert code == 0, output
        assert "expired 1 500 points in 1 entries" in output.replace("\u00a0", " "), output
        assert call(portal, "crm.contact.get", {"id": anna})[CASHBACK] == "0"
        assert "сгорело 1 500 бонусов" in notes(portal, anna)[-1]
        code, output = kopilka(
            "daily", "--only", "expiry", "--json", "--now", "2027-01-03T11:00:00+03:00"
        )
        assert json.loads(output)["expired_entries"] == 0

        code, output = kopilka("daily", "--only", "nothing")
        assert code == 2, output
        assert "unknown job nothing" in output, output


def test_grant_without_a_program_or_a_connected_portal_is_refused(database: str) -> None:
    code, output = kopilka("grant", "42", "--reason", "review")
    assert code == 2, output
    assert "no portal yet" in output, output
