"""Earning rules, levels, eligible catalog sections and accumulative discounts."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from kopilka.program.conditions import Condition
from kopilka.program.policies import Expiry
from kopilka.program.types import (
    Alias,
    Kopecks,
    Number,
    Percent,
    Strict,
    UfCode,
    percent_value,
    suggest,
)

Basis = Literal["won_deals", "purchases_total"]


def _percent_or_level(value: Any) -> Decimal | str:
    if value == "level":
        return "level"
    if isinstance(value, str):
        try:
            return percent_value(value)
        except ValueError:
            raise ValueError(f"expected a number or 'level', got {value!r}") from None
    return percent_value(value)


class EarnRule(Strict):
    id: Alias
    title: str
    segments: list[Alias] | None = None  # absent = every segment
    pipelines: list[Alias] | None = None  # absent = every pipeline
    when: Condition | None = None
    percent: Annotated[Decimal | str, BeforeValidator(_percent_or_level)] | None = None
    fixed: Kopecks | None = None
    fixed_per: Literal["contact", "deal"] = "contact"  # "deal": split between the contacts
    expiry: Expiry | None = None
    pending_days: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_amount(self) -> EarnRule:
        if (self.percent is None) == (self.fixed is None):
            raise ValueError("give exactly one of 'percent' or 'fixed'")
        return self


def _period(value: Any) -> Any:
    if isinstance(value, str):
        if value in ("lifetime", "calendar_year"):
            return {"kind": value}
        raise ValueError(
            f"expected lifetime, calendar_year or {{last_days: N}}, got {value!r}"
            + suggest(value, ["lifetime", "calendar_year"])
        )
    if isinstance(value, dict):
        return {"kind": "last_days", **value}
    return value


class LevelPeriod(Strict):
    kind: Literal["lifetime", "calendar_year", "last_days"]
    last_days: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _days_given(self) -> LevelPeriod:
        if self.kind == "last_days" and self.last_days is None:
            raise ValueError("give the number of days: {last_days: N}")
        return self


class LevelTier(Strict):
    id: Alias
    title: str
    from_: Number = Field(alias="from")  # deals or roubles; a tier lasts until the next one
    percent: Percent
    payable_share: Percent | None = None  # overrides redemption.max_share


class Levels(Strict):
    basis: Basis
    period: Annotated[LevelPeriod, BeforeValidator(_period)] = LevelPeriod(kind="lifetime")
    pipelines: list[Alias] | None = None  # deals of these pipelines count; absent = all
    count_current_deal: bool = True
    tiers: list[LevelTier] = Field(min_length=1)


class EligibleSections(Strict):
    include: list[Alias] | None = None
    exclude: list[Alias] | None = None
    unknown_section: Literal["count", "skip"] = "skip"

    @model_validator(mode="after")
    def _one_list(self) -> EligibleSections:
        if (self.include is None) == (self.exclude is None):
            raise ValueError("give exactly one of 'include' or 'exclude'")
        return self


class DiscountTier(Strict):
    from_: Number = Field(alias="from")
    percent: Percent


class Discount(Strict):
    """An accumulative discount (``tiers``) or a flat one (``percent``, e.g. on the birthday)."""

    id: Alias
    title: str
    basis: Basis | None = None
    pipelines: list[Alias] | None = None  # which won deals count towards the tiers
    tiers: list[DiscountTier] | None = None
    percent: Percent | None = None
    when_birthday_window: bool = False
    applies_in: list[Alias] | None = None  # absent = every pipeline
    field: UfCode | None = None  # the contact field that shows the customer's current percent

    @model_validator(mode="after")
    def _shape(self) -> Discount:
        if (self.tiers is None) == (self.percent is None):
            raise ValueError("give exactly one of 'tiers' or 'percent'")
        if self.tiers is not None and self.basis is None:
            raise ValueError("a discount with tiers needs 'basis': won_deals or purchases_total")
        return self
