"""The import contract (``[tool.importlinter]`` in pyproject.toml, docs/architecture.md) holds, a
breach of it is caught, and no two modules of Kopilka import each other in a circle — lazy
imports inside functions included, since those are where cycles hide."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
SRC = ROOT / "src"
LINT = Path(sys.executable).parent / "lint-imports"


def lint_imports(src: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(  # noqa: S603 - our own tool on our own tree
        [str(LINT), str(ROOT / "pyproject.toml"), "--no-cache"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=src,
    )


def test_the_contract_holds() -> None:
    result = lint_imports(SRC)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_forbidden_import_breaks_the_contract(tmp_path: Path) -> None:
    copy = tmp_path / "src"
    shutil.copytree(SRC / "kopilka", copy / "kopilka")
    money = copy / "kopilka" / "domain" / "money.py"
    money.write_text(money.read_text(encoding="utf-8") + "\nimport sqlalchemy  # noqa\n")
    result = lint_imports(copy)
    assert result.returncode != 0
    assert "kopilka.domain is not allowed to import sqlalchemy" in result.stdout
    assert "kopilka.domain.money -> sqlalchemy" in result.stdout


def module_graph(src: Path) -> dict[str, set[str]]:
    """Which Kopilka module imports which, at any depth of the file (functions too)."""
    modules = {}
    for path in (src / "kopilka").rglob("*.py"):
        name = ".".join(path.relative_to(src).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = path
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                wanted = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                wanted = [a.name for a in node.names]
            else:
                continue
            graph[name] |= {w for w in wanted if w in modules and w != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            nxt = next(edges, None)
            if nxt is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    part = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        part.append(member)
                        if member == node:
                            break
                    if len(part) > 1:
                        found.append(sorted(part))
            elif nxt not in index:
                index[nxt] = low[nxt] = len(index)
                stack.append(nxt)
                on_stack.add(nxt)
                work.append((nxt, iter(sorted(graph[nxt]))))
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
    return found


def test_no_module_imports_itself_in_a_circle() -> None:
    graph = module_graph(SRC)
    assert len(graph) > 100
    assert cycles(graph) == []


def test_a_lazy_import_that_closes_a_circle_is_found(tmp_path: Path) -> None:
    copy = tmp_path / "src"
    shutil.copytree(SRC / "kopilka", copy / "kopilka")
    deferred = copy / "kopilka" / "bitrix24" / "deferred.py"
    deferred.write_text(
        deferred.read_text(encoding="utf-8")
        + "\n\ndef _late() -> None:\n    from kopilka.bitrix24.tasks import register  # noqa\n"
    )
    found = cycles(module_graph(copy))
    assert any({"kopilka.bitrix24.deferred", "kopilka.bitrix24.tasks"} <= set(c) for c in found)
