"""What CEL's operators and functions accept, as the type check of ``program.celcheck`` sees it.

The rules are CEL's own (cel.dev, "Language definition"): operands of one kind, ``==`` between
values of the same kind, ``&&`` on booleans. Where celpy, the runtime Kopilka evaluates with,
accepts a mix the standard does not — a double on the *left* of ``<``, ``+``, ``-`` or ``*``
with an int on the right (``deal.opportunity >= 10000``) — the check accepts it too; every mix
celpy refuses at run time is refused here (``tests/unit/program/test_celcheck.py`` runs celpy
over every pair of kinds to hold the check to that).

Each rule returns the result's type, or a message saying why the operands do not fit.
"""

from __future__ import annotations

from kopilka.program.celtypes import (
    BOOL,
    BYTES,
    DOUBLE,
    DURATION,
    DYN,
    INT,
    NUMBERS,
    STRING,
    TIMESTAMP,
    TYPE,
    UINT,
    CelType,
    article,
    list_of,
)

Outcome = CelType | str  # the result's type, or why the operands do not fit

ORDERING = {"relation_lt": "<", "relation_le": "<=", "relation_gt": ">", "relation_ge": ">="}
EQUALITY = {"relation_eq": "==", "relation_ne": "!="}
ARITHMETIC = {
    "addition_add": "+",
    "addition_sub": "-",
    "multiplication_mul": "*",
    "multiplication_div": "/",
    "multiplication_mod": "%",
}
_ORDERED = NUMBERS | {"string", "bytes", "bool", "timestamp", "duration"}
# Mixed numbers celpy evaluates (left kind, right kind); any other mix fails at run time.
_MIXED_ORDER = {("double", "int"), ("double", "uint"), ("uint", "int"), ("uint", "double")}
_MIXED_ARITHMETIC = {("double", "int"), ("double", "uint")}  # for + - * only
_SAME_KIND_ARITHMETIC = {
    "+": NUMBERS | {"string", "bytes", "list", "duration"},
    "-": NUMBERS | {"duration"},
    "*": NUMBERS,
    "/": NUMBERS,
    "%": frozenset({"int", "uint"}),
}
_TIME_ARITHMETIC = {
    ("timestamp", "+", "duration"): TIMESTAMP,
    ("duration", "+", "timestamp"): TIMESTAMP,
    ("timestamp", "-", "duration"): TIMESTAMP,
    ("timestamp", "-", "timestamp"): DURATION,
}


def _kind(t: CelType) -> str:
    return "map" if t.is_map else t.kind


def ordering(op: str, left: CelType, right: CelType) -> Outcome:
    a, b = _kind(left), _kind(right)
    if "dyn" in (a, b) or (a == b and a in _ORDERED) or (a, b) in _MIXED_ORDER:
        return BOOL
    if {a, b} <= NUMBERS:
        return f"'{op}' cannot compare {article(a)} with {article(b)} (write both the same kind)"
    return f"'{op}' cannot compare {article(left)} with {article(right)}"


def equality(op: str, left: CelType, right: CelType) -> Outcome:
    a, b = _kind(left), _kind(right)
    if "dyn" in (a, b) or a == b:
        return BOOL
    if {a, b} <= NUMBERS:
        return f"'{op}' between {article(a)} and {article(b)} fails (write both the same kind)"
    return f"'{op}' compares {article(left)} with {article(right)}: CEL compares one kind only"


def arithmetic(op: str, left: CelType, right: CelType) -> Outcome:
    a, b = _kind(left), _kind(right)
    if "dyn" in (a, b):
        return DYN
    if a == b and a in _SAME_KIND_ARITHMETIC[op]:
        return left if a != "list" else list_of(DYN)
    if op in "+-*" and (a, b) in _MIXED_ARITHMETIC:
        return DOUBLE
    if (a, op, b) in _TIME_ARITHMETIC:
        return _TIME_ARITHMETIC[(a, op, b)]
    return f"'{op}' cannot combine {article(left)} with {article(right)}"


def membership(left: CelType, right: CelType) -> Outcome:
    kind = _kind(right)
    if kind == "dyn":
        return BOOL
    if kind == "list":
        elem = right.elem or DYN
        outcome = equality("in", left, elem)
        return (
            BOOL
            if isinstance(outcome, CelType)
            else f"'in' looks for {article(left)} in {article(right)}"
        )
    if kind == "map":
        if _kind(left) in ("string", "dyn"):
            return BOOL
        return f"'in' looks for {article(left)} among the keys of {right}, which are strings"
    return f"'in' needs a list or a map on its right, got {article(right)}"


# Functions: name -> (kinds of the argument each overload accepts, result).
_ANY = frozenset({"*"})
FUNCTIONS: dict[str, tuple[frozenset[str], CelType]] = {
    "size": (frozenset({"string", "bytes", "list", "map"}), INT),
    "int": (NUMBERS | {"string", "timestamp"}, INT),
    "uint": (NUMBERS | {"string"}, UINT),
    "double": (NUMBERS | {"string"}, DOUBLE),
    "string": (NUMBERS | {"string", "bool", "bytes", "timestamp", "duration"}, STRING),
    "bool": (frozenset({"bool", "string"}), BOOL),
    "bytes": (frozenset({"string", "bytes"}), BYTES),
    "timestamp": (frozenset({"string", "timestamp"}), TIMESTAMP),
    "duration": (frozenset({"string", "duration"}), DURATION),
    "dyn": (_ANY, DYN),
    "type": (_ANY, TYPE),
}
_TIME_PARTS = (
    "getFullYear",
    "getMonth",
    "getDate",
    "getDayOfMonth",
    "getDayOfWeek",
    "getDayOfYear",
    "getHours",
    "getMinutes",
    "getSeconds",
    "getMilliseconds",
)
# Methods: name -> (receiver kinds, argument kinds, result).
METHODS: dict[str, tuple[frozenset[str], tuple[str, ...], CelType]] = {
    "size": (frozenset({"string", "bytes", "list", "map"}), (), INT),
    "contains": (frozenset({"string"}), ("string",), BOOL),
    "startsWith": (frozenset({"string"}), ("string",), BOOL),
    "endsWith": (frozenset({"string"}), ("string",), BOOL),
    "matches": (frozenset({"string"}), ("string",), BOOL),
    **{name: (frozenset({"timestamp", "duration"}), (), INT) for name in _TIME_PARTS},
}
MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})


def call(name: str, args: list[CelType]) -> Outcome:
    if name == "matches":
        if len(args) != 2:
            return f"matches() takes 2 arguments, got {len(args)}"
        return method("matches", args[0], args[1:])
    if name not in FUNCTIONS:
        return f"unknown function '{name}'"
    accepted, result = FUNCTIONS[name]
    if len(args) != 1:
        return f"{name}() takes one argument, got {len(args)}"
    kind = _kind(args[0])
    if accepted is _ANY or kind == "dyn" or kind in accepted:
        return result
    return f"{name}() does not take {article(args[0])}"


def method(name: str, receiver: CelType, args: list[CelType]) -> Outcome:
    if name not in METHODS:
        return f"unknown function '.{name}()'"
    receivers, params, result = METHODS[name]
    kind = _kind(receiver)
    if kind != "dyn" and kind not in receivers:
        return f".{name}() does not apply to {article(receiver)}"
    if name in _TIME_PARTS and len(args) <= 1:  # an optional time zone
        params = ("string",) * len(args)
    if len(args) != len(params):
        return f".{name}() takes {len(params)} argument(s), got {len(args)}"
    for arg, param in zip(args, params, strict=True):
        if _kind(arg) not in (param, "dyn"):
            return f".{name}() takes {article(param)}, got {article(arg)}"
    return result
