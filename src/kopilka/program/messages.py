"""Turn pydantic's validation errors into plain-worded problems with file, line and field."""

from __future__ import annotations

import re
import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from kopilka.program.errors import Problem
from kopilka.program.types import suggest
from kopilka.program.yamlsource import Path, dotted, line_of

_PRIORITY = ("value_error", "literal_error", "extra_forbidden", "missing")


def problems_from_errors(
    errors: list[ErrorDetails],
    data: Any,
    lines: dict[Path, int],
    filename: str,
    root: type[BaseModel],
) -> list[Problem]:
    best: dict[Path, ErrorDetails] = {}
    for error in errors:
        path = _data_path(error["loc"], data, error["type"])
        if path not in best or _rank(error) < _rank(best[path]):
            best[path] = error
    return [
        Problem(filename, line_of(lines, path), dotted(path), _message(error, path, root))
        for path, error in best.items()
    ]


def _rank(error: ErrorDetails) -> int:
    kind = error["type"]
    return _PRIORITY.index(kind) if kind in _PRIORITY else len(_PRIORITY)


def _data_path(loc: tuple[int | str, ...], data: Any, kind: str) -> Path:
    """Keep the parts of ``loc`` that exist in the data; drop pydantic's union-member tags."""
    path: list[str | int] = []
    current = data
    for index, part in enumerate(loc):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            current = current[part]
        elif kind == "missing" and index == len(loc) - 1 and isinstance(current, dict):
            pass
        else:
            continue
        path.append(part)
    return tuple(path)


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping of keys"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _message(error: ErrorDetails, path: Path, root: type[BaseModel]) -> str:
    kind, ctx, got = error["type"], error.get("ctx") or {}, _shown(error.get("input"))
    if kind == "extra_forbidden":
        known = _known_fields(root, path[:-1])
        return "unknown field" + suggest(str(path[-1]), known) if path else "unknown field"
    if kind == "missing":
        return "required field is missing"
    if kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        options = re.findall(r"'([^']*)'", expected)
        return f"expected one of {expected}, got {got}" + suggest(str(error.get("input")), options)
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"expected a whole number, got {got}"
    if kind.startswith(("decimal_", "float_")):
        return f"expected a number, got {got}"
    if kind in ("bool_parsing", "bool_type"):
        return f"expected true or false, got {got}"
    if kind == "string_type":
        return f"expected text, got {got}"
    if kind in ("list_type", "tuple_type"):
        return f"expected a list, got {got}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a block of keys (key: value), got {got}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        word = {
            "greater_than_equal": "at least",
            "greater_than": "above",
            "less_than_equal": "at most",
            "less_than": "below",
        }[kind]
        limit = next(iter(ctx.values()), "?")
        return f"must be {word} {limit}, got {got}"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length', 1)} item(s)"
    if kind in ("value_error", "assertion_error"):
        return re.sub(r"^(Value error|Assertion failed), ", "", error["msg"])
    return error["msg"]


def _known_fields(root: type[BaseModel], path: Path) -> list[str]:
    """Names an integrator may write at ``path`` (aliases such as "from" included)."""
    current: Any = root
    for part in path:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = next((f for n, f in current.model_fields.items() if part in (n, f.alias)), None)
            current = field.annotation if field else None
        elif get_origin(current) in (list, dict):
            current = get_args(current)[-1]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or n for n, f in current.model_fields.items() if n != "kind"]
    return []


def _unwrap(tp: Any) -> Any:
    """Strip Optional/Annotated/union wrappers down to a model class or a list/dict type."""
    while True:
        origin = get_origin(tp)
        if origin in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            tp = models[0] if models else args[0]
        elif hasattr(tp, "__metadata__"):
            tp = get_args(tp)[0]
        else:
            return tp
