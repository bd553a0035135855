"""The app page's program file handling without a database: a file read, capped and checked
with its problems by line; the text carried to the apply form byte for byte; the moment to
apply from read in the program's time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from kopilka.b24app.settings_program import MAX_FILE, carried, check, moment
from kopilka.domain.errors import InvalidCommand
from kopilka.process.devstack import example

_path, SOURCE = example("retail-wholesale.yaml")


def test_a_good_file_loads_and_is_carried_byte_for_byte() -> None:
    crlf = SOURCE.replace("\n", "\r\n")
    checked = check(crlf.encode(), "dir/shop.yaml")
    assert checked.program is not None
    assert checked.name == "shop.yaml"  # no path from the browser is kept
    again = check(carried(checked.carried), checked.name)
    assert again.program is not None
    assert again.program.hash == checked.program.hash  # CRLF kept: the same version


def test_a_bad_file_names_its_lines() -> None:
    bad = SOURCE.replace("    percent: 5\n", "    percent: lots\n")
    checked = check(bad.encode(), "shop.yaml")
    assert checked.program is None
    line = SOURCE.splitlines().index("    percent: 5") + 1
    assert [p.line for p in checked.problems] == [line]


@pytest.mark.parametrize(
    ("raw", "message"),
    [(b"x" * (MAX_FILE + 1), "larger than"), (b"\xff\xfe program", "not UTF-8")],
)
def test_an_unreadable_file_is_a_problem_not_an_error(raw: bytes, message: str) -> None:
    checked = check(raw, "shop.yaml")
    assert checked.program is None
    assert message in checked.problems[0].message


def test_a_garbled_carried_text_is_no_program() -> None:
    assert carried("not base64!") == b""
    assert check(carried("not base64!"), "x.yaml").program is None


def test_the_moment_is_in_the_program_time_zone() -> None:
    program = check(SOURCE.encode(), "shop.yaml").program
    assert program is not None
    moscow = ZoneInfo("Europe/Moscow")
    assert moment("2030-01-01T00:00", program) == datetime(2030, 1, 1, tzinfo=moscow)
    assert moment("  ", program) is None
    with pytest.raises(InvalidCommand):
        moment("soon", program)
