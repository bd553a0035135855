"""The types a CEL expression of the program file sees, for ``program.celcheck``.

The engine gives every expression three variables (``domain.segments.Facts.cel_variables``):
``deal``, ``contact`` and ``history``. Their attributes and the kind of each are declared here,
once; ``tests/unit/program/test_celcheck.py`` compares the declaration with what the engine
really passes, so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CelType:
    """A kind (``int``, ``double``, ``string``, ``list``, ``map``, ``dyn``, …).

    ``elem`` is a list's element or a map's value; ``attrs`` are the known attributes of a
    declared variable (a map whose keys are fixed); ``name`` says where the value comes from.
    """

    kind: str
    elem: CelType | None = None
    attrs: tuple[tuple[str, CelType], ...] | None = None
    name: str = ""

    def attr(self, key: str) -> CelType | None:
        return dict(self.attrs or ()).get(key)

    @property
    def is_map(self) -> bool:
        return self.kind == "map"

    def __str__(self) -> str:
        if self.attrs is not None:
            return f"{self.name} (a map)"
        if self.kind == "list" and self.elem is not None and self.elem.kind != "dyn":
            return f"list of {self.elem}"
        return self.kind


INT = CelType("int")
UINT = CelType("uint")
DOUBLE = CelType("double")
STRING = CelType("string")
BOOL = CelType("bool")
BYTES = CelType("bytes")
NULL = CelType("null")
DYN = CelType("dyn")
TYPE = CelType("type")
TIMESTAMP = CelType("timestamp")
DURATION = CelType("duration")
NUMBERS = frozenset({"int", "uint", "double"})


def list_of(elem: CelType) -> CelType:
    return CelType("list", elem=elem)


def map_of(value: CelType, name: str = "") -> CelType:
    return CelType("map", elem=value, name=name)


def record(name: str, **attrs: CelType) -> CelType:
    return CelType("map", elem=DYN, attrs=tuple(attrs.items()), name=name)


# The user fields of a deal or a contact: only UF_… codes, any value (text, number, list, …).
DEAL_FIELDS = map_of(DYN, "deal.fields")
CONTACT_FIELDS = map_of(DYN, "contact.fields")
FIELD_MAPS = {"deal.fields": "deal", "contact.fields": "contact"}

VARIABLES: dict[str, CelType] = {
    "deal": record(
        "deal",
        id=INT,
        pipeline=STRING,
        pipeline_id=INT,
        opportunity=DOUBLE,
        company_id=INT,
        has_company=BOOL,
        fields=DEAL_FIELDS,
    ),
    "contact": record("contact", id=INT, type=STRING, fields=CONTACT_FIELDS),
    "history": record("history", won_deals=INT, purchases_total=DOUBLE),
}

# Type names an expression may use as values: ``type(x) == int``.
TYPE_NAMES = frozenset(
    {"int", "uint", "double", "string", "bool", "bytes", "list", "map", "null_type", "type"}
)


def article(kind: CelType | str) -> str:
    """``an int``, ``a double``, ``a deal (a map)``: a kind as a message says it."""
    text = str(kind)
    return ("an " if text[:1] in ("a", "e", "i", "o") else "a ") + text
