"""The ``kopilka`` command line, end to end on a real database of its own."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kopilka.cli import app
from kopilka.config import get_settings
from tests.conftest import TEMPLATE, create_database, drop_database

EXAMPLES = Path(__file__).parents[2] / "examples"
TRAVEL = str(EXAMPLES / "travel-club.yaml")
runner = CliRunner()


@pytest.fixture
def cli_db(template_url: str, pg_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"kopilka_cli_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_server, name, TEMPLATE)
    monkeypatch.setenv("KOPILKA_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
    drop_database(pg_server, name)


def kopilka(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_check_accepts_every_example() -> None:
    paths = sorted(EXAMPLES.glob("*.yaml"))
    shipped = {"retail-wholesale", "car-service", "travel-club", "aesthetic-medicine"}
    assert shipped <= {p.stem for p in paths}, "an empty glob would check nothing"
    for path in paths:
        code, output = kopilka("check", str(path))
        assert code == 0, output
        assert "✓" in output


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        ("max_share: 40", "max_shar: 40", "redemption.max_shar: unknown field"),
        ("percent: 8", "percent: eight", "earn[0].percent"),
        ("segments: [wholesale]", "segments: [wholesal]", "unknown segment 'wholesal'"),
        (
            "segments: [wholesale]\n    percent: 8",
            "segments: [wholesale]\n    when: {expr: 'deal.opportunity >'}\n    percent: 8",
            "earn[0].when.expr",
        ),
    ],
)
def test_check_names_the_line_of_a_bad_program(
    tmp_path: Path, replace: str, by: str, expected: str
) -> None:
    source = (EXAMPLES / "retail-wholesale.yaml").read_text(encoding="utf-8")
    assert replace in source
    bad = source.replace(replace, by, 1)
    line = bad[: bad.index(by.splitlines()[-1] if "expr" not in by else "expr")].count("\n") + 1
    path = tmp_path / "bad.yaml"
    path.write_text(bad, encoding="utf-8")
    code, output = kopilka("check", str(path))
    assert code == 1
    assert f"bad.yaml:{line}:" in output, output
    assert expected in output, output
    code, output = kopilka("check", str(path), "--json")
    assert code == 1
    report = json.loads(output)
    assert report["ok"] is False
    assert line in [p["line"] for p in report["problems"]]


def test_grant_balance_history_explain_and_replay(cli_db: str) -> None:
    assert kopilka("program", "apply", TRAVEL, "--yes")[0] == 0
    assert kopilka("customer", "add", "501", "--name", "Вера")[0] == 0
    args = ("--now", "2026-06-01T10:00:00+03:00")
    code, output = kopilka(
        "grant", "501", "--reason", "review", "--key", "r-1", "--comment", "отзыв", *args
    )
    assert code == 0, output
    assert "+500" in output
    # The same key again is a replay: nothing new is written.
    code, output = kopilka(
        "grant", "501", "--reason", "review", "--key", "r-1", "--comment", "отзыв", *args
    )
    assert code == 0, output
    assert "replayed" in output, output
    code, output = kopilka("balance", "501", "--json", *args)
    assert json.loads(output)["available"] == 500_00
    code, output = kopilka("history", "501", "--json")
    (line,) = json.loads(output)
    assert (line["kind"], line["amount"], line["rule_id"]) == ("accrual", 500_00, "manual:review")
    code, output = kopilka("explain", str(line["transaction_id"]), "--json")
    explained = json.loads(output)
    assert explained["entry"]["actor"] == "cli"
    assert explained["entry"]["rule_inputs"]["comment"] == "отзыв"
    assert len(explained["entry"]["program_hash"]) == 64
    # Over the per-period limit (500 a year): refused with the reason, nothing written.
    code, output = kopilka("grant", "501", "--reason", "review", *args)
    assert code == 2, output
    assert "limit" in output, output
    # The year-end reset: at 00:00 on 1 January in Moscow the review bonus expires.
    code, output = kopilka("expire", "--now", "2026-12-31T20:59:59+00:00", "--json")
    assert json.loads(output)["points"] == 0
    code, output = kopilka("expire", "--now", "2026-12-31T21:00:00+00:00", "--json")
    assert json.loads(output) == {"accounts": 1, "entries": 1, "points": 500_00, "holds_expired": 0}
    code, output = kopilka("balance", "501", "--json")
    assert json.loads(output)["total"] == 0
    code, output = kopilka("verify", "--json")
    assert code == 0, output
    assert json.loads(output) == {"ok": True, "violations": []}


@pytest.mark.parametrize(
    ("customer", "amount", "message"),
    [
        ("501", "1.234", "more than 2 decimals"),
        ("501", "-5", "negative"),
        ("501", "abc", "not a number"),
        ("999", "100", "no customer '999'"),
    ],
)
def test_bad_grants_are_refused_and_write_nothing(
    cli_db: str, customer: str, amount: str, message: str
) -> None:
    assert kopilka("program", "apply", TRAVEL, "--yes")[0] == 0
    assert kopilka("customer", "add", "501")[0] == 0
    code, output = kopilka(
        "grant", customer, "--reason", "apology", "--amount", amount, "--comment", "опоздание"
    )
    assert code == 2, output
    assert message in output, output
    code, output = kopilka("history", "501", "--json")
    assert json.loads(output) == []


def test_commands_refuse_an_unmigrated_database(
    pg_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"kopilka_empty_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_server, name)
    monkeypatch.setenv("KOPILKA_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        code, output = kopilka("balance", "1")
        assert code == 2, output
        assert "kopilka db upgrade" in output, output
        code, output = kopilka("db", "upgrade")
        assert code == 0, output
        assert kopilka("program", "apply", TRAVEL, "--yes")[0] == 0
        code, output = kopilka("balance", "1")
        assert code == 2, output
        assert "no customer" in output, output
    finally:
        get_settings.cache_clear()
        drop_database(pg_server, name)
