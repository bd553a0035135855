"""Cards and notifications on the command line, against an emulated portal over HTTP:
`kopilka card issue`, `kopilka notify send | status | daily`."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from b24emu import EmuServer
from kopilka.cli import app
from kopilka.process.devstack import emulated_portal
from tests.e2e.test_b24_cli import invoke

EXAMPLE = Path(__file__).parents[2] / "examples" / "aesthetic-medicine.yaml"


def test_card_issue_and_the_outbox_on_the_command_line(database: str) -> None:
    portal = emulated_portal()  # the demo seed: Анна (1) has a phone, Елена (4) has none
    with EmuServer(portal):
        webhook = portal.add_webhook(user_id=1, scopes=("crm", "im", "user"))
        token = portal.add_outgoing_webhook("http://127.0.0.1:9/b24/events", ("ONCRMDEALUPDATE",))
        invoke(
            "connect", "--webhook", webhook, "--event-token", token, "--program", str(EXAMPLE),
            "--member-id", portal.member_id,
        )  # fmt: skip
        invoke("provision")

        assert "card +79161234567 (issued)" in invoke("card", "issue", "--contact", "1")
        assert "card +79161234567 (exists)" in invoke("card", "issue", "--contact", "1")
        refused = CliRunner().invoke(app, ["card", "issue", "--contact", "4"])
        assert refused.exit_code == 2
        assert "no phone" in refused.output
        missing = CliRunner().invoke(app, ["card", "issue", "--contact", "999"])
        assert missing.exit_code == 2
        assert "not in the portal" in missing.output

        status = invoke("notify", "status")
        assert re.search(r"b24_chat pending 1 b24_timeline pending 1", status), status
        out = invoke("notify", "send")
        assert "2 sent" in out
        [notice] = portal.notifications
        assert "не указан телефон" in notice["MESSAGE"]
        assert re.search(r"b24_timeline sent 1", invoke("notify", "status"))
        comments = portal.call(
            "crm.timeline.comment.list",
            {"filter": {"ENTITY_ID": 1, "ENTITY_TYPE": "contact"}},
        )["result"]
        assert [c["COMMENT"] for c in comments] == ["Выпущена бонусная карта № +79161234567."]

        out = invoke("notify", "daily")
        assert "1 customers checked" in out
