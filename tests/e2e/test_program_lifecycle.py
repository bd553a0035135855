"""A program over time (issue 14), on the command line against an emulated portal over HTTP:
read-only commands install nothing, a new version never re-prices a deal already won (after a
full re-sync and a sweep), a renamed program keeps its book, the past cannot be re-priced by
`apply`, and a mistyped portal is refused without writing anything."""

from __future__ import annotations

import json
import re
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from b24emu import EmuServer
from kopilka.cli import app
from kopilka.process.devstack import emulated_portal

EXAMPLE = Path(__file__).parents[2] / "examples" / "retail-wholesale.yaml"


def kopilka(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, re.sub(r"\s+", " ", result.output)


def ok(*args: str) -> str:
    code, output = kopilka(*args)
    assert code == 0, output
    return output


def edited(tmp_path: Path, name: str, **replace: str) -> str:
    text = EXAMPLE.read_text(encoding="utf-8")
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def counts(database: str) -> tuple[int, ...]:
    with psycopg.connect(database.replace("+psycopg", "")) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM portals), (SELECT count(*) FROM programs),"
            " (SELECT count(*) FROM program_versions), (SELECT count(*) FROM program_activations),"
            " (SELECT count(*) FROM customers), (SELECT count(*) FROM ledger_transactions)"
        ).fetchone()
    assert row is not None
    return tuple(row)


def win(portal, contact: int, amount: str) -> int:  # type: ignore[no-untyped-def]
    deal = portal.call(
        "crm.deal.add",
        {"fields": {"STAGE_ID": "NEW", "CONTACT_ID": contact, "OPPORTUNITY": amount}},
    )["result"]
    portal.call("crm.deal.update", {"id": deal, "fields": {"STAGE_ID": "WON"}})
    return int(deal)


@pytest.fixture
def connected(database: str):  # type: ignore[no-untyped-def]
    portal = emulated_portal()
    with EmuServer(portal):
        contact = int(
            portal.call("crm.contact.add", {"fields": {"NAME": "Анна", "TYPE_ID": "CLIENT"}})[
                "result"
            ]
        )
        win(portal, contact, "10000")
        webhook = portal.add_webhook(user_id=1, scopes=("crm", "user"))
        token = portal.add_outgoing_webhook("http://127.0.0.1:9/b24/events", ("ONCRMDEALUPDATE",))
        out = ok(
            "connect",
            "--webhook",
            webhook,
            "--event-token",
            token,
            "-p",
            str(EXAMPLE),
            "--member-id",
            portal.member_id,
        )
        assert re.search(r"connected portal \d+", out), out
        ok("provision")
        ok("sync", "--all")
        yield portal, contact


def balance(contact: int) -> dict:  # type: ignore[type-arg]
    return json.loads(ok("balance", str(contact), "--json"))  # type: ignore[no-any-return]


def test_a_new_version_never_reprices_a_won_deal(
    database: str,
    connected,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    portal, contact = connected
    assert balance(contact)["available"] == 500_00  # 5 % of 10 000
    generous = edited(tmp_path, "generous.yaml", **{"percent: 5": "percent: 50"})

    # A read-only command cannot install a program any more: -p is no option of theirs.
    before = counts(database)
    code, output = kopilka("balance", str(contact), "-p", generous)
    assert code != 0, output
    assert "No such option" in output, output
    assert counts(database) == before

    out = ok("program", "apply", generous, "--yes")
    assert "deals won before keep their terms" in out
    # A full re-sync and the sweep: the deal won at 5 % stays at 5 %.
    ok("sync", "--all")
    ok("sync")
    ok("daily", "--only", "totals", "--force")
    assert balance(contact)["available"] == 500_00
    card = portal.call("crm.contact.get", {"id": contact})["result"]
    assert card["UF_CRM_KOP_BALANCE"] == "500"

    # A deal won after the change is priced by the new version, and says so.
    win(portal, contact, "10000")
    ok("sync", "--all")
    assert balance(contact)["available"] == 500_00 + 5_000_00
    lines = json.loads(ok("history", str(contact), "--json"))
    hashes = set()
    for line in lines:
        entry = json.loads(ok("explain", str(line["transaction_id"]), "--json"))["entry"]
        hashes.add(entry["program_hash"])
    assert len(hashes) == 2, hashes
    newest = max(line["transaction_id"] for line in lines)
    assert "applied by cli" in ok("explain", str(newest))  # the version that priced it

    history = json.loads(ok("program", "history", "--json"))
    assert [a["applied_by"] for a in history] == ["kopilka connect", "cli"]


def test_renaming_the_program_keeps_the_book(
    database: str,
    connected,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    portal, contact = connected
    renamed = edited(tmp_path, "renamed.yaml", **{"program: retail-wholesale": "program: shop"})
    out = ok("program", "apply", renamed, "--yes")
    assert "renamed from 'retail-wholesale'" in out, out
    ok("sync", "--all")
    assert balance(contact)["available"] == 500_00
    assert portal.call("crm.contact.get", {"id": contact})["result"]["UF_CRM_KOP_BALANCE"] == "500"
    assert counts(database)[1] == 1  # one lineage


def test_apply_previews_refuses_the_past_and_schedules_the_future(
    database: str,
    connected,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    generous = edited(tmp_path, "generous.yaml", **{"percent: 5": "percent: 50"})
    before = counts(database)
    out = ok("program", "apply", generous, "--dry-run")
    assert "-    percent: 5" in out.replace("\n", " ") or "percent: 50" in out, out
    assert "dry run: nothing was changed" in out
    code, out = kopilka("program", "apply", generous, "--from", "2020-01-01", "--yes")
    assert code == 2, out
    assert "cannot take effect in the past" in out, out
    code, out = kopilka("program", "apply", generous)  # asked, and the answer is no
    assert code == 1
    assert counts(database) == before
    ok("program", "apply", generous, "--from", "2099-01-01", "--yes")
    shown = json.loads(ok("program", "show", "--json"))
    assert shown["in_force"]["applied_by"] == "kopilka connect"
    assert [a["active_from"][:10] for a in shown["scheduled"]] == ["2099-01-01"]
    assert "percent: 50" in ok("program", "diff", "--new", shown["scheduled"][0]["hash"][:8])


def test_a_mistyped_portal_is_refused_and_writes_nothing(
    database: str,
    connected,  # type: ignore[no-untyped-def]
) -> None:
    _portal, contact = connected
    before = counts(database)
    for args in (
        ("grant", str(contact), "--reason", "review", "--portal", "typo"),
        ("customer", "add", "77", "--portal", "typo"),
        ("balance", str(contact), "--portal", "typo"),
        ("sync", "--portal", "typo"),
    ):
        code, output = kopilka(*args)
        assert code == 2, (args, output)
        assert "no portal 'typo'" in output, output
    assert counts(database) == before
    # A contact ID names the customer in every command, as `grant` takes it.
    assert balance(contact)["available"] == balance(contact)["total"]
    ok("history", str(contact))


def test_connect_twice_for_one_portal_keeps_one_record(
    database: str,
    connected,  # type: ignore[no-untyped-def]
) -> None:
    portal, contact = connected
    before = counts(database)
    # The same portal under another host name (its second domain), the same outgoing webhook.
    (row,) = json.loads(ok("portal", "list", "--json"))
    webhook = portal.add_webhook(user_id=1, scopes=("crm", "user")).replace(
        "127.0.0.1", "localhost"
    )
    token = max(portal.auth.outgoing.items())[1].application_token  # the one `connect` got
    out = ok("connect", "--webhook", webhook, "--event-token", token, "-p", str(EXAMPLE))
    assert f"updated portal {row['id']}" in out, out
    assert "already connected" in out, out
    # A re-made webhook on the first host, with a fresh outgoing webhook token: the same record.
    token2 = portal.add_outgoing_webhook("http://127.0.0.1:9/b24/events", ("ONCRMDEALUPDATE",))
    webhook2 = portal.add_webhook(user_id=1, scopes=("crm", "user"))
    out = ok("connect", "--webhook", webhook2, "--event-token", token2, "-p", str(EXAMPLE))
    assert f"updated portal {row['id']}" in out, out
    assert counts(database)[:3] == before[:3]
    assert len(json.loads(ok("portal", "list", "--json"))) == 1
    ok("sync", "--all")  # still one tenant syncing: the balance is what it was
    assert balance(contact)["available"] == 500_00
    # Another program through `connect` is refused: that is what `program apply` is for.
    other = str(Path(__file__).parents[2] / "examples" / "travel-club.yaml")
    code, out = kopilka("connect", "--webhook", webhook2, "--event-token", token2, "-p", other)
    assert code == 2, out
    assert "kopilka program apply" in out, out
    assert counts(database)[:4] == before[:4]


def test_portal_list_show_rename_disconnect(
    database: str,
    connected,  # type: ignore[no-untyped-def]
) -> None:
    portal, contact = connected
    (row,) = json.loads(ok("portal", "list", "--json"))
    assert (row["mode"], row["status"], row["program"]) == ("webhook", "active", "retail-wholesale")
    assert row["member_id"] == portal.member_id
    assert row["customers"] == 1
    ok("portal", "rename", str(row["id"]), "Магазин на Ленина")
    shown = json.loads(ok("portal", "show", portal.member_id, "--json"))
    assert shown["title"] == "Магазин на Ленина"
    out = ok("portal", "disconnect", str(row["id"]), "--yes")
    assert "its book is kept" in out
    code, out = kopilka("sync")
    assert code == 2, out
    assert "not connected to Bitrix24" in out, out
    assert balance(contact)["available"] == 500_00  # the book stays readable
    with psycopg.connect(database.replace("+psycopg", "")) as conn:
        creds = conn.execute(
            "SELECT webhook_url, access_token, status FROM b24_connections"
        ).fetchone()
    assert creds == (None, None, "disconnected")
