"""The self-hosted path on the command line, against an emulated portal over HTTP:
`kopilka connect`, `kopilka provision` (twice: idempotent), then `kopilka sync --all` backfills
deals that were won before Kopilka was connected."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
from typer.testing import CliRunner

from b24emu import EmuServer
from kopilka.cli import app
from kopilka.process.devstack import emulated_portal

EXAMPLE = Path(__file__).parents[2] / "examples" / "retail-wholesale.yaml"


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return re.sub(r"\s+", " ", result.output)


def test_connect_provision_and_backfill(database: str) -> None:
    portal = emulated_portal()
    with EmuServer(portal):
        # History made before Kopilka existed: two won deals and a lost one.
        contact = int(
            portal.call("crm.contact.add", {"fields": {"NAME": "Анна", "TYPE_ID": "CLIENT"}})[
                "result"
            ]
        )
        for amount, stage in (("10000", "WON"), ("30000", "WON"), ("5000", "LOSE")):
            deal = portal.call(
                "crm.deal.add",
                {"fields": {"STAGE_ID": "NEW", "CONTACT_ID": contact, "OPPORTUNITY": amount}},
            )["result"]
            portal.call("crm.deal.update", {"id": deal, "fields": {"STAGE_ID": stage}})
        webhook = portal.add_webhook(user_id=1, scopes=("crm", "user"))
        token = portal.add_outgoing_webhook("http://127.0.0.1:9/b24/events", ("ONCRMDEALUPDATE",))

        out = invoke(
            "connect",
            "--webhook",
            webhook,
            "--event-token",
            token,
            "--program",
            str(EXAMPLE),
            "--member-id",
            portal.member_id,
        )
        assert "connected portal" in out
        assert token not in out
        first = invoke("provision")
        again = invoke("provision")
        assert re.search(r"created [1-9]\d* fields, 0 already there", first), first
        assert re.search(r"created 0 fields, [1-9]\d* already there", again), again
        names = {f["FIELD_NAME"] for f in portal.call("crm.contact.userfield.list", {})["result"]}
        assert {"UF_CRM_KOP_BALANCE", "UF_CRM_KOP_WON_DEALS"} <= names

        out = invoke("sync", "--all")
        assert "3 deals checked" in out
        card = portal.call("crm.contact.get", {"id": contact})["result"]
        assert card["UF_CRM_KOP_BALANCE"] == "2000"  # 5 % of 10 000 + 30 000
        assert card["UF_CRM_KOP_WON_DEALS"] == "2"

        # Nothing changed since: a second backfill posts nothing.
        out = invoke("sync", "--all")
        assert "0 postings" in out


def test_connect_refuses_a_bad_webhook_url(database: str) -> None:
    result = CliRunner().invoke(
        app, ["connect", "--webhook", "not a url", "--event-token", "x", "--program", str(EXAMPLE)]
    )
    assert result.exit_code == 2
    assert "webhook URL must look like" in result.output


def test_a_connect_that_cannot_prove_its_webhook_stores_nothing(database: str) -> None:
    portal = emulated_portal()
    with EmuServer(portal) as server:
        good = portal.add_webhook(user_id=1, scopes=("crm", "user"))
        wrong = good.rstrip("/").rsplit("/", 1)[0] + "/not-the-code/"
        unreachable = "http://127.0.0.1:9/rest/1/abcdef/"  # nothing listens on port 9
        for webhook in (wrong, unreachable):
            result = CliRunner().invoke(
                app,
                ["connect", "--webhook", webhook, "--event-token", "t" * 32, "-p", str(EXAMPLE)],
            )
            assert result.exit_code != 0, result.output
            assert "the webhook does not work, nothing was stored" in result.output
            assert "not-the-code" not in result.output  # the webhook's code is a credential
        assert server.url  # the portal was up all along: only the webhooks were wrong
    with psycopg.connect(database.replace("+psycopg", "")) as conn:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM b24_connections), (SELECT count(*) FROM portals)"
        ).fetchone()
    assert counts == (0, 0)
