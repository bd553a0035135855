"""CEL expressions of the program file: compiled once at load time, evaluated without I/O.

An expression sees three variables (see docs/program-file.md): ``deal``, ``contact`` and
``history``. celpy interprets the expression tree itself; it cannot open files, import modules or
reach the network, so a program file cannot make the engine do anything but compute a boolean.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import celpy
from celpy.adapter import json_to_cel

logging.getLogger("celpy").setLevel(logging.CRITICAL)  # celpy logs every failed evaluation

_ENV = celpy.Environment()


class ExpressionError(Exception):
    """A CEL expression that does not compile or fails to evaluate."""


@lru_cache(maxsize=512)
def compile_expression(text: str) -> Any:
    """The runnable program of ``text``; raises ``ExpressionError`` with a readable message."""
    try:
        ast = _ENV.compile(text)
        return _ENV.program(ast)
    except Exception as exc:  # celpy raises several unrelated exception types
        column = getattr(exc, "column", None)
        if isinstance(column, int):
            near = text[max(column - 1, 0) :][:20] or "the end"
            where = f"syntax error at column {column}, near {near!r}"
        else:
            where = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExpressionError(f"invalid CEL expression {text!r}: {where}") from None


def _plain(value: Any) -> Any:
    """Make a value json_to_cel understands (it knows str, int, float, bool, None, list, dict)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def evaluate_expression(text: str, variables: dict[str, Any]) -> bool:
    """Evaluate ``text``; raises ``ExpressionError`` when it fails or is not a boolean."""
    runner = compile_expression(text)
    activation = {name: json_to_cel(_plain(value)) for name, value in variables.items()}
    try:
        result = runner.evaluate(activation)
    except Exception as exc:  # CELEvalError and friends
        raise ExpressionError(f"{text!r} failed: {_reason(exc)}") from None
    if isinstance(result, Exception):
        raise ExpressionError(f"{text!r} failed: {_reason(result)}")
    if not isinstance(result, celpy.celtypes.BoolType):
        raise ExpressionError(f"{text!r} returned {result!r}, not true or false")
    return bool(result)


def _reason(exc: BaseException) -> str:
    args = getattr(exc, "args", ())
    return str(args[0]) if args else type(exc).__name__
