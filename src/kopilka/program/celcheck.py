"""Type-check a CEL expression of the program file before it ever runs (``kopilka check``).

celpy parses an expression into a tree (the grammar is celpy's ``cel.lark``); this module walks
it once and gives every sub-expression a type: a kind from ``program.celtypes`` — the declared
``deal``, ``contact`` and ``history`` with their attributes, or ``dyn`` where only the run time
knows (a user field's value). An operator or function applied to kinds that do not fit
(``program.celops``), an attribute the variable does not have, a name nobody declared, or a
result that is not a boolean is a problem: at run time it would fail and count as false.

The user fields the expression reads (``deal.fields.UF_…``, ``contact.fields['UF_…']``) are
returned too, so that ``program.review`` can name those the program does not map.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import celpy
from lark import Token, Tree

from kopilka.program.celops import (
    ARITHMETIC,
    EQUALITY,
    MACROS,
    ORDERING,
    arithmetic,
    call,
    equality,
    membership,
    method,
    ordering,
)
from kopilka.program.celtypes import (
    BOOL,
    BYTES,
    DOUBLE,
    DYN,
    FIELD_MAPS,
    INT,
    NULL,
    STRING,
    TYPE,
    TYPE_NAMES,
    UINT,
    VARIABLES,
    CelType,
    article,
    list_of,
    map_of,
)
from kopilka.program.types import suggest

_ENV = celpy.Environment()
_LITERALS = {
    "INT_LIT": INT,
    "UINT_LIT": UINT,
    "FLOAT_LIT": DOUBLE,
    "STRING_LIT": STRING,
    "MLSTRING_LIT": STRING,
    "BYTES_LIT": BYTES,
    "BOOL_LIT": BOOL,
    "NULL_LIT": NULL,
}


@dataclass(frozen=True)
class Checked:
    """The outcome of checking one expression."""

    problems: tuple[str, ...]
    reads: tuple[tuple[str, str], ...]  # ("deal" | "contact", field code), in reading order


@lru_cache(maxsize=512)
def check_expression(text: str) -> Checked:
    """Check ``text`` (an expression that compiles); an empty ``problems`` means it fits."""
    checker = _Checker(text)
    result = checker.visit(_ENV.compile(text))
    if result.kind not in ("bool", "dyn"):
        checker.problems.append(f"the expression gives {article(result)}, not true or false")
    return Checked(tuple(dict.fromkeys(checker.problems)), tuple(dict.fromkeys(checker.reads)))


def type_error(problems: tuple[str, ...]) -> str:
    """The message of a type-checked expression's problems, as the program file reports it."""
    return "CEL type error: " + "; ".join(problems)


@dataclass
class _Checker:
    text: str
    problems: list[str] = field(default_factory=list)
    reads: list[tuple[str, str]] = field(default_factory=list)
    scope: dict[str, CelType] = field(default_factory=dict)

    def visit(self, node: Tree[Token]) -> CelType:
        rule = str(node.data)
        kids = [k for k in node.children if isinstance(k, Tree)]
        if rule == "expr" and len(kids) == 3:
            self.need_bool(kids[0], "the condition before '?'")
            a, b = self.visit(kids[1]), self.visit(kids[2])
            return a if a == b else DYN
        if rule in ("conditionalor", "conditionaland") and len(kids) == 2:
            word = "||" if rule == "conditionalor" else "&&"
            self.need_bool(kids[0], f"the left side of '{word}'")
            self.need_bool(kids[1], f"the right side of '{word}'")
            return BOOL
        if rule in ("relation", "addition", "multiplication") and len(kids) == 2:
            return self.binary(node, kids[0], kids[1])
        if rule == "unary" and len(kids) == 2:
            return self.unary(node, str(kids[0].data), kids[1])
        handler = getattr(self, f"on_{rule}", None)
        if handler is not None:
            result: CelType = handler(node, kids)
            return result
        if len(kids) == 1:  # expr, member, primary, paren_expr …: one child, the same value
            return self.visit(kids[0])
        return self.fail(node, f"'{self.source(node)}' is not supported by Kopilka's check")

    # -- helpers -----------------------------------------------------------------------------

    def source(self, node: Tree[Token]) -> str:
        meta = node.meta
        if getattr(meta, "empty", True):
            return self.text
        return self.text[meta.start_pos : meta.end_pos]

    def fail(self, node: Tree[Token], message: str) -> CelType:
        self.problems.append(f"{self.source(node)}: {message}")
        return DYN

    def need_bool(self, node: Tree[Token], what: str) -> None:
        kind = self.visit(node)
        if kind.kind not in ("bool", "dyn"):
            self.fail(node, f"{what} must be true or false, got {article(kind)}")

    def binary(self, node: Tree[Token], op_node: Tree[Token], right_node: Tree[Token]) -> CelType:
        op = str(op_node.data)
        (left_node,) = [k for k in op_node.children if isinstance(k, Tree)]
        left, right = self.visit(left_node), self.visit(right_node)
        if op in ORDERING:
            outcome = ordering(ORDERING[op], left, right)
        elif op in EQUALITY:
            outcome = equality(EQUALITY[op], left, right)
        elif op == "relation_in":
            outcome = membership(left, right)
        else:
            outcome = arithmetic(ARITHMETIC[op], left, right)
        if isinstance(outcome, str):
            hint = _quoted_number_hint(left_node, right_node)
            return self.fail(node, outcome + hint)
        return outcome

    def unary(self, node: Tree[Token], op: str, operand_node: Tree[Token]) -> CelType:
        operand = self.visit(operand_node)
        if operand.kind == "dyn":
            return BOOL if op == "unary_not" else DYN
        if op == "unary_not":
            if operand.kind != "bool":
                return self.fail(node, f"'!' needs true or false, got {article(operand)}")
            return BOOL
        if operand.kind not in ("int", "double", "duration"):
            return self.fail(node, f"'-' needs a number, got {article(operand)}")
        return operand

    # -- leaves --------------------------------------------------------------------------------

    def on_literal(self, node: Tree[Token], kids: list[Tree[Token]]) -> CelType:
        (token,) = node.children
        return _LITERALS[token.type] if isinstance(token, Token) else DYN

    def on_ident(self, node: Tree[Token], kids: list[Tree[Token]]) -> CelType:
        name = str(node.children[0])
        if name in self.scope:
            return self.scope[name]
        if name in VARIABLES:
            return VARIABLES[name]
        if name in TYPE_NAMES:
            return TYPE
        known = sorted(VARIABLES)
        return self.fail(
            node,
            f"unknown name '{name}' — the expression sees {', '.join(known)}"
            + suggest(name, known),
        )

    on_dot_ident = on_ident

    def on_list_lit(self, node: Tree[Token], kids: list[Tree[Token]]) -> CelType:
        items = [self.visit(k) for k in (kids[0].children if kids else ()) if isinstance(k, Tree)]
        kinds = set(items)
        return list_of(items[0] if len(kinds) == 1 else DYN)

    def on_map_lit(self, node: Tree[Token], kids: list[Tree[Token]]) -> CelType:
        inits = [k for k in (kids[0].children if kids else ()) if isinstance(k, Tree)]
        values = [self.visit(k) for k in inits]
        for key_node, key in zip(inits[::2], values[::2], strict=True):
            if key.kind not in ("string", "int", "uint", "bool", "dyn"):
                self.fail(
                    key_node, f"a map key must be a string, number or bool, not {article(key)}"
                )
        kinds = set(values[1::2])
        return map_of(values[1] if len(kinds) == 1 else DYN)

    def on_member_object(self, node: Tree[Token], kids: list[Tree[Token]]) -> CelType:
        return self.fail(node, "message construction is not available in Kopilka's expressions")

    # -- selection, indexing, calls ------------------------------------------------------------

    def on_member_dot(self, node: Tree[Token], kids: list[Tree[Token]]) -> CelType:
        name = str(node.children[1])
        return self.select(node, self.visit(kids[0]), name)

    def select(self, node: Tree[Token], base: CelType, key: str) -> CelType:
        if base.kind == "dyn":
            return DYN
        if not base.is_map:
            return self.fail(node, f"{article(base)} has no attributes ('.{key}')")
        if base.attrs is not None:
            found = base.attr(key)
            if found is None:
                names = [n for n, _ in base.attrs]
                return self.fail(
                    node,
                    f"{base.name} has no attribute '{key}' — it has {', '.join(names)}"
                    + suggest(key, names),
                )
            return found
        if base.name in FIELD_MAPS:
            if not key.startswith("UF_"):
                return self.fail(
                    node, f"{base.name} holds only user fields (UF_CRM_…), never '{key}'"
                )
            self.reads.append((FIELD_MAPS[base.name], key))
        return base.elem or DYN

    def on_member_index(self, node: Tree[Token], kids: list[Tree[Token]]) -> CelType:
        base, index = self.visit(kids[0]), self.visit(kids[1])
        constant = _string_constant(kids[1])
        if base.is_map and constant is not None:
            return self.select(node, base, constant)
        if base.kind == "dyn":
            return DYN
        if base.kind == "list":
            if index.kind not in ("int", "uint", "dyn"):
                return self.fail(node, f"a list is indexed by a number, not {article(index)}")
            return base.elem or DYN
        if base.is_map:
            keyed_by_name = base.attrs is not None or base.name in FIELD_MAPS
            if keyed_by_name and index.kind not in ("string", "dyn"):
                return self.fail(node, f"{base.name} is indexed by a string, not {article(index)}")
            return base.elem or DYN
        return self.fail(node, f"{article(base)} cannot be indexed")

    def on_ident_arg(self, node: Tree[Token], kids: list[Tree[Token]]) -> CelType:
        name = str(node.children[0])
        args = _args(kids[0] if kids else None)
        if name == "has":
            return self.has(node, args)
        outcome = call(name, [self.visit(a) for a in args])
        return self.fail(node, outcome) if isinstance(outcome, str) else outcome

    on_dot_ident_arg = on_ident_arg

    def has(self, node: Tree[Token], args: list[Tree[Token]]) -> CelType:
        selection = _descend(args[0], "member_dot") if len(args) == 1 else None
        if selection is not None:
            base_node = next(k for k in selection.children if isinstance(k, Tree))
            self.select(selection, self.visit(base_node), str(selection.children[1]))
            return BOOL
        index = _descend(args[0], "member_index") if len(args) == 1 else None
        if index is not None:  # not in CEL's standard, but celpy evaluates it
            self.visit(index)
            return BOOL
        return self.fail(node, "has() takes a field selection, like has(contact.fields.UF_X)")

    def on_member_dot_arg(self, node: Tree[Token], kids: list[Tree[Token]]) -> CelType:
        receiver = self.visit(kids[0])
        name = str(node.children[1])
        args = _args(kids[1] if len(kids) > 1 else None)
        if name in MACROS:
            return self.macro(node, name, receiver, args)
        outcome = method(name, receiver, [self.visit(a) for a in args])
        return self.fail(node, outcome) if isinstance(outcome, str) else outcome

    def macro(
        self, node: Tree[Token], name: str, receiver: CelType, args: list[Tree[Token]]
    ) -> CelType:
        variable = _descend(args[0], "ident") if args else None
        if variable is None or len(args) not in (2, 3) or (len(args) == 3 and name != "map"):
            return self.fail(node, f".{name}() takes a variable name and an expression")
        if receiver.kind == "list":
            bound = receiver.elem or DYN
        elif receiver.is_map:
            bound = STRING  # a map's keys
        elif receiver.kind == "dyn":
            bound = DYN
        else:
            return self.fail(node, f".{name}() applies to a list or a map, not {article(receiver)}")
        var = str(variable.children[0])
        saved = self.scope.get(var)
        self.scope[var] = bound
        try:
            if name in ("all", "exists", "exists_one", "filter") or len(args) == 3:
                self.need_bool(args[1], f"the condition of .{name}()")
            result = self.visit(args[-1]) if name == "map" else BOOL
        finally:
            if saved is None:
                del self.scope[var]
            else:
                self.scope[var] = saved
        if name == "map":
            return list_of(result)
        return list_of(bound) if name == "filter" else BOOL


def _args(exprlist: Tree[Token] | None) -> list[Tree[Token]]:
    if exprlist is None:
        return []
    return [k for k in exprlist.children if isinstance(k, Tree)]


def _descend(node: Tree[Token], rule: str) -> Tree[Token] | None:
    """The ``rule`` node under a chain of single-child nodes (``expr`` → … → ``ident``)."""
    while str(node.data) != rule:
        kids = [k for k in node.children if isinstance(k, Tree)]
        if len(kids) != 1 or node.children[1:]:
            return None
        node = kids[0]
    return node


def _string_constant(node: Tree[Token]) -> str | None:
    literal = _descend(node, "literal")
    if literal is None:
        return None
    token = literal.children[0]
    if not isinstance(token, Token) or token.type != "STRING_LIT" or token[0] in "rR":
        return None
    return str(token)[1:-1]


def _quoted_number_hint(left: Tree[Token], right: Tree[Token]) -> str:
    for node in (left, right):
        text = _string_constant(node)
        if text is not None and text.replace(".", "", 1).isdigit():
            return f" — write the number {text} without quotes"
    return ""
