"""Section B of the program: copying product properties into deals, yearly totals on contacts."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from kopilka.program.types import Alias, Strict

_SOURCE = re.compile(r"^(NAME|CODE|PRICE|PROPERTY_[A-Za-z0-9_]+)$")
_TARGET = re.compile(r"^(TITLE|BEGINDATE|COMMENTS|UF_CRM_[A-Z0-9_]+)$")
_DATE_FIELD = re.compile(r"^UF_CRM_[A-Z0-9_]+$")
_TEMPLATE = re.compile(r"^UF_CRM_[A-Z0-9_]*\{year\}[A-Z0-9_]*$")


class FieldCopy(Strict):
    from_: str = Field(alias="from")  # NAME, CODE, PRICE or PROPERTY_<id or code>
    to: str  # TITLE, BEGINDATE, COMMENTS or UF_CRM_…
    #: the title of a UF_CRM_ field Kopilka creates for it (default: made from its code)
    title: str | None = Field(default=None, min_length=1, max_length=200)

    @field_validator("from_")
    @classmethod
    def _source(cls, value: str) -> str:
        if not _SOURCE.match(value):
            raise ValueError(f"expected NAME, CODE, PRICE or PROPERTY_<id>, got {value!r}")
        return value

    @field_validator("to")
    @classmethod
    def _target(cls, value: str, info: ValidationInfo) -> str:
        # a version stored before this check keeps loading (deals were priced by it)
        if value == "CLOSEDATE" and not (info.context or {}).get("stored"):
            raise ValueError(
                "CLOSEDATE cannot be filled from the product: Bitrix24 sets it to the day a deal "
                "is won (and Kopilka counts the win by it), so the copied dates would vanish at "
                "the win; copy them into a date user field (UF_CRM_…) and, for yearly totals by "
                "those dates, name it in the totals rule's year_of"
            )
        if not _TARGET.match(value):
            raise ValueError(
                f"expected TITLE, BEGINDATE, COMMENTS or a UF_CRM_ field, got {value!r}"
            )
        return value


class YearlyTotal(Strict):
    pipelines: list[Alias] = Field(min_length=1)
    by: Literal["year"] = "year"
    field: str  # e.g. "UF_CRM_TRAVEL_{year}"
    title: str  # e.g. "Путешествия {year}"
    years_back: int = Field(default=0, ge=0, le=50)  # earlier years filled by the backfill
    #: a date field of the deal whose year a won deal counts for (e.g. the trip's dates); unset
    #: or empty on a deal: the year it was won. Such a rule also fills next year's field.
    year_of: str | None = None

    @field_validator("year_of")
    @classmethod
    def _date_field(cls, value: str | None) -> str | None:
        if value is not None and not _DATE_FIELD.match(value):
            raise ValueError(f"expected a deal date field UF_CRM_…, got {value!r}")
        return value

    @field_validator("field")
    @classmethod
    def _template(cls, value: str) -> str:
        if not _TEMPLATE.match(value):
            raise ValueError(f"expected a UF_CRM_ code containing {{year}}, got {value!r}")
        return value


class Transfer(Strict):
    product_to_deal: list[FieldCopy] = Field(default_factory=list)
    totals: list[YearlyTotal] = Field(default_factory=list)
