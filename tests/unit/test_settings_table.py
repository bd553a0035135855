"""docs/deploy.md's table of every KOPILKA_* setting is the one generated from config.Settings,
and the generator misses no setting and leaves none without a meaning."""

from __future__ import annotations

import re
from pathlib import Path

from kopilka.config import Settings
from kopilka.settings_table import BEGIN, END, main, render, rows, table

DOC = Path(__file__).parents[2] / "docs" / "deploy.md"


def test_the_table_in_docs_deploy_is_up_to_date() -> None:
    page = DOC.read_text(encoding="utf-8")
    assert render(page) == page, "docs/deploy.md's settings table is stale: run `make settings_doc`"


def test_every_setting_is_in_the_doc_once_with_a_meaning() -> None:
    """The oracle is pydantic's list of fields, not the generator's reading of the source."""
    page = DOC.read_text(encoding="utf-8")
    block = page[page.index(BEGIN) : page.index(END)]
    documented = re.findall(r"^\| `(KOPILKA_\w+)` \|", block, flags=re.MULTILINE)
    expected = [f"KOPILKA_{name.upper()}" for name in Settings.model_fields]
    assert sorted(documented) == sorted(expected)
    assert len(expected) > 50  # a table that lost its rows would not pass unnoticed
    for row in rows():
        assert row.meaning, f"{row.env} has no `#:` comment in kopilka/config.py"


def test_a_stale_table_is_found_and_rewritten(tmp_path: Path) -> None:
    stale = DOC.read_text(encoding="utf-8").replace(
        "| `KOPILKA_SMTP_PORT` |", "| `KOPILKA_SMTP_PORTX` |"
    )
    page = tmp_path / "deploy.md"
    page.write_text(stale, encoding="utf-8")
    assert main(["--check", str(page)]) == 1
    assert page.read_text(encoding="utf-8") == stale  # --check writes nothing
    assert main([str(page)]) == 0
    assert page.read_text(encoding="utf-8") == DOC.read_text(encoding="utf-8")
    assert main(["--check", str(page)]) == 0


def test_defaults_and_types_are_shown_as_an_operator_writes_them() -> None:
    lines = {line.split(" | ")[0].strip("| `"): line for line in table().splitlines()}
    assert lines["KOPILKA_SMTP_PORT"] == (
        "| `KOPILKA_SMTP_PORT` | integer | `587` | see `KOPILKA_SMTP_HOST` |"
    )
    assert "| secret | unset |" in lines["KOPILKA_SECRET_KEYS"]
    assert "| `starttls` \\| `tls` \\| `none` | `starttls` |" in lines["KOPILKA_SMTP_TLS"]
    assert "| true \\| false | `true` |" in lines["KOPILKA_B24_TIMELINE_COMMENTS"]
    assert "| path | `var` |" in lines["KOPILKA_DATA_DIR"]
