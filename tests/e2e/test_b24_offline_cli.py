"""``kopilka portal events online|offline``: offline needs Kopilka installed as an application;
a webhook portal is refused with the reason and keeps its delivery."""

from __future__ import annotations

import psycopg

from b24emu import EmuServer
from kopilka.process.devstack import emulated_portal
from tests.e2e.conftest import TRAVEL, kopilka


def test_a_webhook_portal_cannot_go_offline(database: str) -> None:
    portal = emulated_portal()
    with EmuServer(portal):
        webhook = portal.add_webhook(user_id=1, scopes=("crm", "user"))
        token = portal.add_outgoing_webhook("http://127.0.0.1:9/b24/events", ("ONCRMDEALUPDATE",))
        code, out = kopilka(
            "connect", "--webhook", webhook, "--event-token", token, "-p", TRAVEL,
            "--member-id", portal.member_id,
        )  # fmt: skip
        assert code == 0, out
        code, out = kopilka("portal", "events", "offline")
        assert code == 2, out
        assert "connected by webhook" in out, out
        assert "application" in out, out
        code, out = kopilka("portal", "events", "sideways")
        assert code == 2, out
        code, out = kopilka("portal", "events", "online", "--portal", portal.member_id)
        assert code == 0, out
        assert "events online (was online)" not in out
        assert "events online (unchanged)" in out, out
    with psycopg.connect(database.replace("+psycopg", "")) as conn:
        rows = conn.execute("SELECT mode FROM b24_event_delivery").fetchall()
    assert rows == [("online",)]
