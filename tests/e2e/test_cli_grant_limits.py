"""``kopilka grants limit | limits | unlimit``: the limits on manual grants per person (R-11)
from the command line, the same rows the portal administrator's page edits."""

from __future__ import annotations

import json

from tests.e2e.test_cli import TRAVEL, cli_db, kopilka

__all__ = ["cli_db"]


def test_limits_are_set_listed_replaced_and_removed(cli_db: str) -> None:
    code, output = kopilka("program", "apply", TRAVEL, "--yes")
    assert code == 0, output
    code, output = kopilka("grants", "limits")
    assert code == 0, output
    assert "no limits" in output
    code, output = kopilka("grants", "limit", "--who", "manager", "--points", "1000")
    assert code == 0, output
    assert "every manager: 1\u00a0000 points a month" in output
    code, output = kopilka(
        "grants", "limit", "--who", "3", "--points", "5000", "--per", "year", "--name", "Мария"
    )
    assert code == 0, output
    code, output = kopilka("grants", "limit", "--who", "manager", "--points", "800")
    assert code == 0, output  # replaces the managers' limit: one per role
    code, output = kopilka("grants", "limits", "--json")
    assert code == 0, output
    found = json.loads(output)
    assert [(x["role"], x["user_id"], x["max_total"], x["period"]) for x in found] == [
        ("manager", None, 80000, "month"),
        (None, 3, 500000, "year"),
    ]
    assert found[1]["user_name"] == "Мария"
    code, output = kopilka("grants", "limit", "--who", "boss", "--points", "1")
    assert code == 2
    assert "--who is 'manager'" in output
    code, output = kopilka("grants", "limit", "--who", "3", "--points", "1", "--per", "decade")
    assert code == 2
    assert "the period is one of day, week, month, year" in output
    code, output = kopilka("grants", "unlimit", str(found[0]["id"]))
    assert code == 0, output
    code, output = kopilka("grants", "unlimit", str(found[0]["id"]))
    assert code == 2
    code, output = kopilka("grants", "limits", "--json")
    assert [x["user_id"] for x in json.loads(output)] == [3]
