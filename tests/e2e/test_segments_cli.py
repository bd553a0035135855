"""``kopilka segment …`` on the self-hosted path (issue 18, item 6): deals won before Kopilka
was connected are backfilled, their buyers become customers, and the CLI shows and exports
seed 000's segments — to UniSender (the fake over HTTP) and to a CSV file."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from b24emu import EmuServer
from kopilka.cli import app
from kopilka.config import get_settings
from kopilka.fakes import UniSenderFake
from kopilka.process.devstack import emulated_portal

EXAMPLE = Path(__file__).parents[2] / "examples" / "retail-wholesale.yaml"


def invoke(*args: str) -> str:
    """What the command printed on stdout (logs go to stderr: another test may have turned
    them on, and CSV on stdout must stay CSV)."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_segment_show_and_export_from_the_command_line(
    database: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    portal = emulated_portal()
    with EmuServer(portal), UniSenderFake(api_key="cli-key", list_ids=(1, 2)) as fake:
        monkeypatch.setenv("KOPILKA_UNISENDER_API_KEY", "cli-key")
        monkeypatch.setenv("KOPILKA_UNISENDER_URL", fake.url)
        get_settings.cache_clear()

        def contact(name: str, type_id: str, email: str) -> int:
            fields = {"NAME": name, "TYPE_ID": type_id, "EMAIL": [{"VALUE": email}]}
            return int(portal.call("crm.contact.add", {"fields": fields})["result"])

        def won(contact_id: int) -> None:
            deal = portal.call(
                "crm.deal.add",
                {"fields": {"STAGE_ID": "NEW", "CONTACT_ID": contact_id, "OPPORTUNITY": "1000"}},
            )["result"]
            portal.call("crm.deal.update", {"id": deal, "fields": {"STAGE_ID": "WON"}})

        anna = contact("Анна", "CLIENT", "anna@shop.example")
        ivan = contact("Иван", "1", "ivan@opt.example")
        contact("Пётр", "CLIENT", "petr@shop.example")  # never bought
        won(anna)
        won(ivan)
        webhook = portal.add_webhook(user_id=1, scopes=("crm", "user"))
        token = portal.add_outgoing_webhook("http://127.0.0.1:9/b24/events", ("ONCRMDEALUPDATE",))
        invoke("connect", "--webhook", webhook, "--event-token", token, "--program", str(EXAMPLE),
               "--member-id", portal.member_id)  # fmt: skip
        invoke("sync", "--all")

        listed = invoke("segment", "list")
        assert "wholesale-offer: Оптовикам — предложение месяца (UniSender list 2, daily)" in listed
        shown = list(csv.DictReader(io.StringIO(invoke("segment", "show", "retail-offer"))))
        assert [(int(r["contact_id"]), r["email"]) for r in shown] == [(anna, "anna@shop.example")]

        exported = invoke("segment", "export", "wholesale-offer")
        assert re.search(r"1 contacts: 1 inserted, 0 updated, 0 invalid", exported), exported
        assert fake.members(2) == {"ivan@opt.example"}

        target = tmp_path / "retail.csv"
        invoke("segment", "export", "retail-offer", "--csv", str(target))
        assert "anna@shop.example" in target.read_text(encoding="utf-8")
        assert fake.members(1) == set()  # a CSV export sends nothing

        refused = CliRunner().invoke(app, ["segment", "export", "nobody"])
        assert refused.exit_code != 0
        assert "no mailing segment 'nobody'" in refused.output
    get_settings.cache_clear()
