"""Small value types of the program file, with error messages an integrator can read."""

from __future__ import annotations

import difflib
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from kopilka.domain.errors import InvalidAmount
from kopilka.domain.money import to_minor


class Strict(BaseModel):
    """Base of every program model: unknown keys are errors and loaded values never change."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


_ALIAS = re.compile(r"^[a-z][a-z0-9_-]*$")
_UF = re.compile(r"^UF_CRM_[A-Z0-9_]+$")


def suggest(word: str, known: list[str]) -> str:
    """' — did you mean "x"?' for the closest of ``known``, or ''."""
    close = difflib.get_close_matches(str(word), known, n=1, cutoff=0.6)
    return f' — did you mean "{close[0]}"?' if close else ""


def _text(value: Any) -> Any:
    # Bitrix ids are often digits ("1", "2"); YAML reads them as numbers.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _alias(value: str) -> str:
    if not _ALIAS.match(value):
        raise ValueError(
            f"'{value}' is not a valid alias: use lower-case latin letters, digits, '_' and '-'"
        )
    return value


def _uf(value: str) -> str:
    if not _UF.match(value):
        raise ValueError(
            f"'{value}' is not a Bitrix24 user field code: expected UF_CRM_ followed by A-Z, 0-9, _"
        )
    return value


def _number(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    try:
        dec = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        raise ValueError(f"expected a number, got {value!r}") from None
    if not dec.is_finite():
        raise ValueError(f"expected a number, got {value!r}")
    return dec


def percent_value(value: Any) -> Decimal:
    dec = _number(value)
    if not Decimal(0) <= dec <= Decimal(100):
        raise ValueError(f"a percent must be between 0 and 100, got {value}")
    return dec


def _rub(value: Any) -> int:
    """Roubles as written in the file -> kopecks."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"expected an amount in roubles, got {value!r}")
    if isinstance(value, float):
        value = repr(value)
    try:
        return to_minor(value, allow_zero=True)
    except InvalidAmount as exc:
        raise ValueError(
            f"expected an amount in roubles with at most 2 decimals, got {value!r}"
            if "decimals" in exc.message or "number" in exc.message
            else exc.message
        ) from None


Code = Annotated[str, BeforeValidator(_text)]  # a Bitrix STATUS_ID or list value id
Alias = Annotated[str, AfterValidator(_alias)]
UfCode = Annotated[str, AfterValidator(_uf)]
Number = Annotated[Decimal, BeforeValidator(_number)]
Percent = Annotated[Decimal, BeforeValidator(percent_value)]
Kopecks = Annotated[int, BeforeValidator(_rub)]  # written in roubles, held in kopecks
