"""The domain and the program model import nothing that does I/O (STYLE 1)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[2] / "src" / "kopilka"
FORBIDDEN = ("sqlalchemy", "psycopg", "httpx", "fastapi", "alembic", "kopilka.db",
             "kopilka.ledger", "kopilka.cli", "kopilka.runtime")
PURE = sorted([*(SRC / "domain").glob("*.py"), *(SRC / "program").glob("*.py")])


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", PURE, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_pure_modules_do_no_io(path: Path) -> None:
    bad = [n for n in _imports(path) if n.split(".")[0] in FORBIDDEN or n.startswith(FORBIDDEN)]
    assert bad == [], f"{path.name} imports {bad}"


def test_the_rule_covers_something() -> None:
    assert len(PURE) > 10
