"""Conditions: which contacts and deals a segment or a rule applies to.

Every key present must hold (an implicit "all"); ``all``/``any``/``not`` combine conditions.
"""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator, model_validator

from kopilka.program.cel import ExpressionError, compile_expression
from kopilka.program.celcheck import check_expression, type_error
from kopilka.program.types import Alias, Code, Strict, UfCode


class ContactFieldIn(Strict):
    """A contact user field (e.g. a list-type classifier) whose value is one of ``in``."""

    field: UfCode
    in_: list[Code] = Field(alias="in", min_length=1)


class Condition(Strict):
    contact_type: list[Code] | None = None  # contact TYPE_ID (STATUS_ID of «Типы контактов»)
    contact_field: ContactFieldIn | None = None
    pipeline: list[Alias] | None = None  # pipeline aliases of the deal
    has_company: bool | None = None
    expr: str | None = None  # a CEL expression
    all_: list[Condition] | None = Field(default=None, alias="all")
    any_: list[Condition] | None = Field(default=None, alias="any")
    not_: Condition | None = Field(default=None, alias="not")

    @field_validator("expr")
    @classmethod
    def _compiles(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            try:
                compile_expression(value)
            except ExpressionError as exc:
                raise ValueError(str(exc)) from None
            stored = bool((info.context or {}).get("stored"))  # see loader.parse_program
            problems = check_expression(value).problems
            if problems and not stored:
                raise ValueError(type_error(problems))
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> Condition:
        if not self.model_fields_set:
            raise ValueError(
                "an empty condition: use contact_type, contact_field, pipeline, has_company, "
                "expr, all, any or not"
            )
        return self
