"""`kopilka program reprice --since DATE` (issue 14): won deals closed since DATE are re-priced
under the version in force — only the differences posted (the old accrual reversed, the new one
accrued, keyed by deal and version), a second run posts nothing, and a deal whose reversal would
take back points the customer already spent is left exactly as it was and reported."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from typer.testing import CliRunner

from b24emu import EmuServer, Portal
from kopilka.cli import app
from kopilka.process.devstack import emulated_portal

EXAMPLE = Path(__file__).parents[2] / "examples" / "retail-wholesale.yaml"


def kopilka(*args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(app, list(args), input=input)
    assert result.exit_code == 0, result.output
    return result.output


def call(portal: Portal, method: str, params: dict[str, Any]) -> Any:
    answer = portal.call(method, params)
    assert "error" not in answer, answer
    return answer["result"]


def won(portal: Portal, contact: int, amount: str, **fields: Any) -> int:
    return int(
        call(
            portal,
            "crm.deal.add",
            {"fields": {"STAGE_ID": "WON", "CONTACT_ID": contact, "OPPORTUNITY": amount, **fields}},
        )
    )


def points(contact: int) -> int:
    return int(json.loads(kopilka("balance", str(contact), "--json"))["total"])


def ledger(database: str, deal: int) -> list[tuple[str, str, int, str]]:
    """The deal's transactions: key, kind, amount to the customer, version."""
    with psycopg.connect(database.replace("+psycopg", "")) as conn:
        rows = conn.execute(
            "SELECT t.idempotency_key, t.kind, coalesce(sum(e.amount) FILTER "
            "  (WHERE a.kind = 'customer'), 0), coalesce(t.program_hash, '') "
            "FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id "
            "JOIN accounts a ON a.id = e.account_id WHERE t.reference = %s "
            "GROUP BY t.id ORDER BY t.id",
            (f"deal:{deal}",),
        ).fetchall()
    return [(str(k), str(kind), int(n), str(h)) for k, kind, n, h in rows]


def priced_by(database: str, deal: int) -> str:
    with psycopg.connect(database.replace("+psycopg", "")) as conn:
        row = conn.execute("SELECT priced_by FROM b24_deals WHERE deal_id = %s", (deal,)).fetchone()
    assert row is not None
    return str(row[0])


def test_reprice_posts_differences_once_and_never_overdraws(database: str, tmp_path: Path) -> None:
    portal = emulated_portal()
    lower = tmp_path / "lower.yaml"
    lower.write_text(
        EXAMPLE.read_text(encoding="utf-8").replace("percent: 5", "percent: 1", 1),
        encoding="utf-8",
    )
    with EmuServer(portal):
        ids = [
            int(call(portal, "crm.contact.add", {"fields": {"NAME": n, "TYPE_ID": "CLIENT"}}))
            for n in ("Ира", "Юрий", "Зина")
        ]
        ira, yury, zina = ids
        month_ago = f"{datetime.now(UTC) - timedelta(days=30):%Y-%m-%d}"
        old = won(portal, yury, "10000", CLOSEDATE=month_ago)  # before --since: kept
        recent = won(portal, ira, "10000")
        spent = won(portal, zina, "10000")
        webhook = portal.add_webhook(user_id=1, scopes=("crm", "user"))
        token = portal.add_outgoing_webhook("http://127.0.0.1:9/b24/events", ("ONCRMDEALUPDATE",))
        kopilka(
            "connect", "--webhook", webhook, "--event-token", token, "-p", str(EXAMPLE),
            "--member-id", portal.member_id,
        )  # fmt: skip
        kopilka("provision")
        kopilka("sync", "--all")
        # Зина pays a second order with the 500 points her first one earned
        paying = won(portal, zina, "1250", UF_CRM_KOP_PAY_POINTS="500")
        kopilka("sync", "--all")
        assert [points(c) for c in ids] == [500_00, 500_00, 37_00]  # 5 % of 750 paid in money
        a_hash = priced_by(database, recent)

        kopilka("program", "apply", str(lower), "--yes")
        since = f"{datetime.now(UTC) - timedelta(days=7):%Y-%m-%d}"
        before = {d: ledger(database, d) for d in (old, recent, spent, paying)}
        first = json.loads(kopilka("program", "reprice", "--since", since, "--yes", "--json"))
        b_hash = first["version"]
        assert b_hash != a_hash

        # the preview: the what-if of the three recent deals under the version in force
        preview = first["preview"]
        assert (preview["deals"], preview["replayed"]) == (3, 3)
        would = {c["contact_id"]: c["would_earn"] for c in preview["contacts"]}
        assert would == {ira: 100_00, zina: 100_00 + 7_00}

        # Ира: 500 reversed, 100 accrued, under the new version, keyed by deal and version
        assert sorted(first["repriced"]) == sorted([recent, paying])
        posted = ledger(database, recent)[len(before[recent]) :]
        assert [(kind, n, h) for _k, kind, n, h in posted] == [
            ("reversal", -500_00, b_hash),
            ("accrual", 100_00, b_hash),
        ]
        assert all(f"deal:{recent}:reprice:{b_hash[:16]}:" in k for k, *_ in posted)
        assert priced_by(database, recent) == b_hash
        # Юрий's deal closed before --since: untouched
        assert ledger(database, old) == before[old]
        assert priced_by(database, old) == a_hash
        # Зина spent the 500 a reversal of her first deal would take back: it is left exactly
        # as it was and reported; her second deal (37 → 7) is re-priced
        assert first["shortfalls"] == [
            {"deal_id": spent, "contact_id": zina, "needed": 500_00, "has": 37_00,
             "short": 463_00}
        ]  # fmt: skip
        assert ledger(database, spent) == before[spent]
        assert priced_by(database, spent) == a_hash
        repaid = ledger(database, paying)[len(before[paying]) :]
        assert [(kind, n) for _k, kind, n, _h in repaid] == [
            ("reversal", -37_00),
            ("accrual", 7_00),
        ]
        assert [points(c) for c in ids] == [100_00, 500_00, 7_00]

        # a second run posts nothing and reports the same shortfall
        after = {d: ledger(database, d) for d in (old, recent, spent, paying)}
        second = json.loads(kopilka("program", "reprice", "--since", since, "--yes", "--json"))
        assert (second["posted"], second["repriced"]) == (0, [])
        assert second["shortfalls"] == [first["shortfalls"][0] | {"has": 7_00, "short": 493_00}]
        assert {d: ledger(database, d) for d in after} == after

        # and a full re-sync keeps the re-priced deals at their new price
        kopilka("sync", "--all")
        assert [points(c) for c in ids] == [100_00, 500_00, 7_00]
        assert {d: ledger(database, d) for d in after} == after


def test_reprice_shows_the_preview_and_asks(database: str, tmp_path: Path) -> None:
    portal = emulated_portal()
    with EmuServer(portal):
        contact = int(call(portal, "crm.contact.add", {"fields": {"NAME": "Ира"}}))
        deal = won(portal, contact, "10000")
        webhook = portal.add_webhook(user_id=1, scopes=("crm", "user"))
        token = portal.add_outgoing_webhook("http://127.0.0.1:9/b24/events", ("ONCRMDEALUPDATE",))
        kopilka(
            "connect", "--webhook", webhook, "--event-token", token, "-p", str(EXAMPLE),
            "--member-id", portal.member_id,
        )  # fmt: skip
        kopilka("sync", "--all")
        lower = tmp_path / "lower.yaml"
        lower.write_text(
            EXAMPLE.read_text(encoding="utf-8").replace("percent: 5", "percent: 1", 1),
            encoding="utf-8",
        )
        shown = kopilka("program", "apply", str(lower), "--yes")
        assert "what-if over the recorded won deals (all): 1 deals, 1 replayed" in shown, shown
        assert "earned 500, would earn 100" in shown, shown
        before = ledger(database, deal)
        result = CliRunner().invoke(
            app, ["program", "reprice", "--since", "2020-01-01"], input="n\n"
        )
        assert result.exit_code == 1, result.output
        assert "Re-price these deals?" in result.output
        assert "-400" in result.output  # the table's difference for Ира
        assert ledger(database, deal) == before
        assert points(contact) == 500_00

        # a deal settled before what the engine saw was recorded (revision 0014) is counted as
        # not replayable, and `sync --all` records it
        with psycopg.connect(database.replace("+psycopg", "")) as conn:
            conn.execute("UPDATE b24_deals SET engine_input = NULL")
        shown = kopilka("program", "whatif", str(EXAMPLE))
        assert "1 deals, 0 replayed, 1 not replayable" in shown, shown
        assert "`kopilka sync --all` records it" in shown
        kopilka("sync", "--all")
        report = json.loads(kopilka("program", "whatif", str(EXAMPLE), "--json"))
        assert (report["replayed"], report["not_replayable"]) == (1, 0)
        assert report["contacts"][0]["would_earn"] == 500_00  # 5 % again
        assert report["contacts"][0]["earned"] == 500_00
        lines = kopilka("program", "whatif", str(lower), "--csv").splitlines()
        assert lines == [
            "contact_id,name,deals,earned,would_earn,difference,level_now,level_would",
            f"{contact},Ира,1,50000,10000,-40000,,",
        ]
