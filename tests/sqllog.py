"""Every distinct SQL statement the tests send through SQLAlchemy, written to a file.

Off unless ``KOPILKA_SQL_LOG`` names the file (JSON lines: statement, count, the first test that
sent it, the ``src/kopilka`` functions that sent it). ``scripts/portal_scope.py`` reads it to list
the statements that are not scoped to one portal (docs/scale.md). Statements sent by worker
subprocesses, and procrastinate's own (it speaks psycopg directly), are not seen here.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

import greenlet
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

_seen: Counter[str] = Counter()
_first: dict[str, str] = {}
_sites: dict[str, set[str]] = {}
_ROOT = Path(__file__).resolve().parents[1]
_OWN = (str(_ROOT / "src" / "kopilka"), str(_ROOT / "tests"), str(_ROOT / "bench"))


def _site() -> str:
    """The function that sent the statement, e.g. ``kopilka.ledger.posting:post_many``: the
    innermost frame of the project's own code; empty when that is a test's. SQLAlchemy's asyncio
    runs the driver in a greenlet, so the walk goes on in each parent greenlet's frames (the
    awaiting coroutines)."""
    frame: FrameType | None = sys._getframe(2)
    current: Any = greenlet.getcurrent()
    while True:
        while frame is not None:
            name = frame.f_code.co_filename
            # a lambda handed to run_in_transaction leaves no frame: its caller sent it
            skip = frame.f_code.co_name == "run_in_transaction" or name == __file__
            if name.startswith(_OWN) and not skip:
                if not name.startswith(_OWN[0]):
                    return ""  # a test's (or a benchmark's) own statement
                module = Path(name).relative_to(_ROOT / "src").with_suffix("")
                return f"{'.'.join(module.parts)}:{frame.f_code.co_name}"
            frame = frame.f_back
        current = current.parent
        if current is None:
            return ""
        frame = current.gr_frame


def _record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    text = re.sub(r"\s+", " ", statement).strip()
    _seen[text] += 1
    _sites.setdefault(text, set()).add(_site())
    if text not in _first:
        _first[text] = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("KOPILKA_SQL_LOG"):
        event.listen(Engine, "before_cursor_execute", _record)


def pytest_unconfigure(config: pytest.Config) -> None:
    target = os.environ.get("KOPILKA_SQL_LOG")
    if not target:
        return
    event.remove(Engine, "before_cursor_execute", _record)
    with Path(target).open("a", encoding="utf-8") as out:
        for text, count in sorted(_seen.items()):
            sites = sorted(_sites[text])
            row = {"sql": text, "count": count, "test": _first[text], "sites": sites}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
