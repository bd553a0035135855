"""List semantics shared by ``*.list`` methods: filter prefixes, ordering, 50-row pages (§4, §7)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from b24emu.registry import Page
from b24emu.wire import parse_datetime, to_decimal, to_int

PAGE_SIZE = 50
_PREFIXES = ("!=%", "!%=", ">=", "<=", "!@", "!=", "=%", "%=", "!%", ">", "<", "@", "=", "%", "!")
_NEGATIVE = frozenset({"!=", "!", "!@", "!%", "!=%", "!%="})


@dataclass
class Cond:
    op: str
    field: str
    value: Any


@dataclass
class Group:
    logic: str  # "AND" | "OR"
    items: list[Cond | Group]


def split_key(key: str) -> tuple[str, str]:
    for prefix in _PREFIXES:
        if key.startswith(prefix) and len(key) > len(prefix):
            return prefix, key[len(prefix) :]
    return "", key


def parse_filter(raw: Any, nested: bool = False) -> Group:
    """A filter object as conditions; ``nested`` allows ``logic`` and sub-filters (crm.item)."""
    group = Group("AND", [])
    if not isinstance(raw, dict):
        return group
    for key, value in raw.items():
        if nested and str(key).lower() == "logic":
            group.logic = "OR" if str(value).upper() == "OR" else "AND"
            continue
        if nested and isinstance(value, dict) and (str(key).isdigit() or key == ""):
            group.items.append(parse_filter(value, nested=True))
            continue
        op, name = split_key(str(key))
        group.items.append(Cond(op, name, value))
    return group


Resolver = Callable[[Any, str], tuple[Any, str] | None]
"""(record, field) -> (value, kind) with kind in num|date|str; ``None`` = unknown field."""


def _norm(value: Any, kind: str, tz: tzinfo) -> Any:
    if value is None or value == "" or value is False:
        return None
    if kind == "num":
        return to_decimal(value)
    if kind == "date":
        return parse_datetime(value, tz)
    return str(value).casefold()


def _like(pattern: str, text: str, implicit: bool) -> bool:
    if implicit:
        return pattern.casefold() in text
    regex = "".join(
        ".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern.casefold()
    )
    return re.fullmatch(regex, text, flags=re.DOTALL) is not None


def _one(op: str, actual: Any, expected: Any, kind: str, tz: tzinfo) -> bool:
    """Positive form of ``op`` for one actual scalar."""
    base = op.lstrip("!") if op.startswith("!") else op
    if base in ("@",):
        values = expected if isinstance(expected, list) else [expected]
        left = _norm(actual, kind, tz)
        return any(left is not None and left == _norm(v, kind, tz) for v in values)
    if isinstance(expected, list) and base in ("", "="):
        return _one("@", actual, expected, kind, tz)
    if base in ("%", "=%", "%="):
        if actual is None or expected is None:
            return False
        return _like(str(expected), str(actual).casefold(), implicit=base == "%")
    left = _norm(actual, kind, tz)
    right = _norm(expected, kind, tz)
    if base in ("", "="):
        return bool(left == right)
    if left is None or right is None:
        return False
    compare: dict[str, Callable[[Any, Any], bool]] = {
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
    }
    try:
        return bool(compare[base](left, right))
    except TypeError:
        return False


def _cond_holds(cond: Cond, actual: Any, kind: str, tz: tzinfo) -> bool:
    negative = cond.op in _NEGATIVE
    positive_op = {"!=": "=", "!": "=", "!@": "@", "!%": "%", "!=%": "=%", "!%=": "=%"}.get(
        cond.op, cond.op
    )
    values = actual if isinstance(actual, list) else [actual]
    if not values:
        values = [None]
    hit = any(_one(positive_op, v, cond.value, kind, tz) for v in values)
    return not hit if negative else hit


def matches(record: Any, group: Group, resolve: Resolver, tz: tzinfo) -> bool:
    results: list[bool] = []
    for item in group.items:
        if isinstance(item, Group):
            results.append(matches(record, item, resolve, tz))
            continue
        resolved = resolve(record, item.field)
        if resolved is None:
            continue  # unknown field: ignored
        actual, kind = resolved
        results.append(_cond_holds(item, actual, kind, tz))
    if not results:
        return True
    return any(results) if group.logic == "OR" else all(results)


def _sort_key(value: Any, kind: str, tz: tzinfo) -> tuple[int, Any]:
    if isinstance(value, list):
        value = value[0] if value else None
    norm = _norm(value, kind, tz)
    if norm is None:
        return (0, 0)
    if isinstance(norm, (Decimal, datetime)):
        return (1, norm)
    return (1, str(norm))


def order_rows(
    rows: list[Any],
    order: Any,
    resolve: Resolver,
    tz: tzinfo,
    sort_override: Callable[[str, Any], Any] | None = None,
) -> list[Any]:
    """Stable multi-key sort; NULLs first on ASC (MySQL); unknown fields are ignored."""
    if not isinstance(order, dict):
        return rows
    result = list(rows)
    for name, direction in reversed(list(order.items())):
        if not rows or resolve(rows[0], str(name)) is None:
            continue
        desc = str(direction).strip().upper() == "DESC"

        def key(row: Any, name: str = str(name)) -> Any:
            resolved = resolve(row, name)
            value, kind = resolved if resolved else (None, "str")
            if sort_override is not None:
                special = sort_override(name, value)
                if special is not None:
                    return (1, special)
            return _sort_key(value, kind, tz)

        result.sort(key=key, reverse=desc)
    return result


def legacy_page(rows: list[Any], start: Any) -> Page:
    """Legacy navigation: ``start`` -> page ``floor(start/50)+1``; ``start=-1`` -> ``total: 0``."""
    offset = to_int(start, 0) if start is not None else 0
    if offset < 0:
        return Page(rows[:PAGE_SIZE], total=0, next=None)
    page = offset // PAGE_SIZE + 1
    begin = (page - 1) * PAGE_SIZE
    total = len(rows)
    page_count = -(-total // PAGE_SIZE)
    nxt = page * PAGE_SIZE if page < page_count else None
    return Page(rows[begin : begin + PAGE_SIZE], total=total, next=nxt)


def modern_page(rows: list[Any], start: Any, wrap: str) -> Page:
    """Controller navigation: ``next = offset + items`` while ``< total``; ``-1`` omits both."""
    offset = to_int(start, 0) if start is not None else 0
    if offset < 0:
        return Page({wrap: rows[:PAGE_SIZE]})
    begin = offset // PAGE_SIZE * PAGE_SIZE
    items = rows[begin : begin + PAGE_SIZE]
    total = len(rows)
    nxt = begin + len(items) if begin + len(items) < total else None
    return Page({wrap: items}, total=total, next=nxt)
