"""Read YAML text into plain data plus a map from each data path to its line number."""

from __future__ import annotations

from typing import Any

import yaml

from kopilka.program.errors import Problem

Path = tuple[str | int, ...]

_PLAIN = {
    "expected <block end>, but found '<block mapping start>'": "a key is indented wrongly",
    "expected <block end>, but found '<block sequence start>'": "a list is indented wrongly",
    "expected <block end>, but found '-'": "a list item is indented wrongly",
    "mapping values are not allowed here": "unexpected ':' (quote the value if it contains ': ')",
    "found character '\\t' that cannot start any token": "a tab character; indent with spaces",
}


def read_yaml(text: str, filename: str) -> tuple[Any, dict[Path, int], list[Problem]]:
    """Parse ``text``; returns (data, lines, problems). Syntax errors come back as problems."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return None, {}, [_syntax_problem(exc, filename)]
    lines: dict[Path, int] = {(): 1}
    problems: list[Problem] = []
    if root is not None:
        _walk(root, (), lines, problems, filename)
    return data, lines, problems


def line_of(lines: dict[Path, int], path: Path) -> int | None:
    """The line of ``path`` or, when it is absent from the file, of its nearest ancestor."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def dotted(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _walk(
    node: yaml.Node, path: Path, lines: dict[Path, int], problems: list[Problem], filename: str
) -> None:
    constructor = yaml.SafeLoader("")
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            try:
                key = constructor.construct_object(key_node, deep=True)
            except yaml.YAMLError:
                continue
            child = (*path, key)
            if key in seen:
                problems.append(
                    Problem(
                        filename,
                        key_node.start_mark.line + 1,
                        dotted(child),
                        "duplicate key: it appears twice in the same block",
                    )
                )
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            _walk(value_node, child, lines, problems, filename)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines[child] = item.start_mark.line + 1
            _walk(item, child, lines, problems, filename)


def _syntax_problem(exc: yaml.YAMLError, filename: str) -> Problem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    for jargon, plain in _PLAIN.items():
        problem = problem.replace(jargon, plain)
    message = f"YAML syntax error: {problem}"
    if context and mark is not getattr(exc, "context_mark", None):
        context_mark = getattr(exc, "context_mark", None)
        if context_mark is not None:
            message += f" ({context} started on line {context_mark.line + 1})"
    message += " — check the indentation and the ':' after each key"
    return Problem(filename, line, "", message)
