"""Policies: expiry, redemption, manual bonuses, birthday window, splitting between contacts."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from kopilka.program.types import Alias, Kopecks, Percent, Strict, UfCode, suggest

_MONTH_DAY = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")


class Expiry(Strict):
    """When earned points expire: exactly one of the four keys."""

    after: Literal["never"] | None = None
    after_days: int | None = Field(default=None, ge=1)
    at: Literal["end_of_month", "end_of_year"] | None = None
    at_dates: list[str] | None = Field(default=None, min_length=1)  # "MM-DD", local midnight

    @field_validator("at_dates")
    @classmethod
    def _month_days(cls, value: list[str] | None) -> list[str] | None:
        for item in value or []:
            if not _MONTH_DAY.match(str(item)) or str(item) in ("02-30", "02-31"):
                raise ValueError(f'expected a date as MM-DD (e.g. "01-01"), got {item!r}')
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Expiry:
        if len(self.model_fields_set) != 1:
            raise ValueError(
                "give exactly one of: after: never, after_days: N, at: end_of_month|end_of_year, "
                'at_dates: ["MM-DD", ...]'
            )
        return self


NEVER = Expiry(after="never")


class Redemption(Strict):
    max_share: Percent = Decimal(100)  # % of the order payable with points
    earn_on_paid_with_points: bool = False
    hold_ttl_hours: int = Field(default=72, ge=1)
    applies_in: list[Alias] | None = None  # pipelines where points can pay; absent = all
    payer: Literal["primary"] = "primary"


def _grant_period(value: Any) -> Any:
    if isinstance(value, str):
        if value in ("day", "week", "month", "year"):
            return {"kind": value}
        raise ValueError(
            f"expected day, week, month, year or {{days: N}}, got {value!r}"
            + suggest(value, ["day", "week", "month", "year"])
        )
    if isinstance(value, dict):
        return {"kind": "days", **value}
    return value


class GrantPeriod(Strict):
    kind: Literal["day", "week", "month", "year", "days"]
    days: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _days_given(self) -> GrantPeriod:
        if self.kind == "days" and self.days is None:
            raise ValueError("give the number of days: {days: N}")
        return self


class PerPeriod(Strict):
    max_total: Kopecks
    period: Annotated[GrantPeriod, BeforeValidator(_grant_period)]


class ManualBonus(Strict):
    title: str
    default_amount: Kopecks | None = None
    max_per_grant: Kopecks
    per_period: PerPeriod | None = None  # per customer and reason (ledger.grants)
    comment_required: bool = False
    expiry: Expiry | None = None

    @model_validator(mode="after")
    def _default_within_max(self) -> ManualBonus:
        if self.default_amount is not None and self.default_amount > self.max_per_grant:
            raise ValueError("default_amount is larger than max_per_grant")
        return self


class Birthday(Strict):
    flag_field: UfCode | None = None  # checkbox on the contact, on inside the window
    days_before: int = Field(default=7, ge=0, le=180)
    days_after: int = Field(default=7, ge=0, le=180)


class Split(Strict):
    mode: Literal["equal", "primary", "share_field"] = "equal"
    field: UfCode | None = None  # the contact's share weight, for share_field

    @model_validator(mode="after")
    def _field_given(self) -> Split:
        if self.mode == "share_field" and self.field is None:
            raise ValueError("mode share_field needs 'field': the UF_CRM_ code holding the share")
        return self
