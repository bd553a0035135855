"""``kopilka check`` catches what will not work (issue 14, item 5): type errors in CEL with their
line, rules reading fields the program does not map, and a program with no way to earn."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kopilka.cli import app

runner = CliRunner()

BROKEN = """\
program: demo
title: Демо
segments:
  big:
    title: крупные
    when:
      expr: "deal.opportunity > '10000'"
earn:
  - id: site
    title: С сайта
    when: {expr: "has(deal.fields.UF_CRM_SOURCE)"}
    percent: 5
"""

WARNED = """\
program: demo
title: Демо
segments:
  gold:
    title: золото
    when: {contact_field: {field: UF_CRM_STATUS, in: [gold]}}
earn:
  - {id: nothing, title: Ничего, percent: 0}
"""


def kopilka(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_check_reports_a_cel_type_error_then_an_unread_deal_field_with_their_lines(
    tmp_path: Path,
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    code, output = kopilka("check", str(path))
    assert code == 1
    assert (
        f"{path}:7: segments.big.when.expr: CEL type error: deal.opportunity > '10000': "
        "'>' cannot compare a double with a string" in " ".join(output.split())
    ), output
    code, output = kopilka("check", str(path), "--json")
    assert code == 1
    report = json.loads(output)
    assert report["ok"] is False
    assert [(p["line"], p["field"], p["severity"]) for p in report["problems"]] == [
        (7, "segments.big.when.expr", "error"),
    ]
    # Once the shape is right, the second round: the rule reads a deal field nobody reads.
    path.write_text(BROKEN.replace("'10000'", "10000"), encoding="utf-8")
    code, output = kopilka("check", str(path))
    assert code == 1
    assert (
        f"{path}:11: earn[0].when.expr: reads the deal field UF_CRM_SOURCE, which the program "
        "does not map" in " ".join(output.split())
    ), output
    code, output = kopilka("check", str(path), "--json")
    assert code == 1
    assert [(p["line"], p["severity"]) for p in json.loads(output)["problems"]] == [(11, "error")]


def test_check_shows_warnings_and_still_accepts_the_file(tmp_path: Path) -> None:
    path = tmp_path / "warned.yaml"
    path.write_text(WARNED, encoding="utf-8")
    code, output = kopilka("check", str(path))
    assert code == 0, output
    assert "✓" in output
    lines = output.splitlines()
    assert any(
        line.startswith(
            f"{path}:6: segments.gold.when.contact_field.field: warning: reads the "
            "contact field UF_CRM_STATUS"
        )
        for line in lines
    ), output
    assert any(line.startswith(f"{path}:7: earn: warning: no way to earn") for line in lines), (
        output
    )
    code, output = kopilka("check", str(path), "--json")
    assert code == 0
    report = json.loads(output)
    assert report["ok"] is True
    assert [(w["line"], w["field"], w["severity"]) for w in report["warnings"]] == [
        (6, "segments.gold.when.contact_field.field", "warning"),
        (7, "earn", "warning"),
    ]
