"""Campaigns on a marketing calendar: a date window, a scope, an effect, an optional budget."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from kopilka.program.conditions import Condition
from kopilka.program.types import Alias, Kopecks, Number, Percent, Strict

_MONTH_DAY = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")
_DAYS = {2: 29, 4: 30, 6: 30, 9: 30, 11: 30}


def _month_day(value: Any) -> str:
    text = str(value)
    if not _MONTH_DAY.match(text) or int(text[3:]) > _DAYS.get(int(text[:2]), 31):
        raise ValueError(f'expected a day of the year as MM-DD (e.g. "11-24"), got {value!r}')
    if text == "02-29":
        raise ValueError("02-29 is not in every year: use 02-28 or 03-01")
    return text


MonthDay = Annotated[str, BeforeValidator(_month_day)]


def _date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value)) if len(str(value)) == 10 else _no_date(value)
    except ValueError:
        return _no_date(value)


def _no_date(value: Any) -> date:
    raise ValueError(
        f"expected a date as YYYY-MM-DD (e.g. 2026-11-27), got {value!r} — for a window every "
        "year write every_year: {from: MM-DD, to: MM-DD}"
    )


Day = Annotated[date, BeforeValidator(_date)]


class Yearly(Strict):
    """Every year from one day to another, both included; ``to`` before ``from`` crosses New
    Year (``{from: 12-25, to: 01-08}``)."""

    from_: MonthDay = Field(alias="from")
    to: MonthDay


class Campaign(Strict):
    id: Alias
    title: str  # «Чёрная пятница»: shown in the timeline, the admin and the what-if report
    # the window, in the program's time zone, both days included: one-off or every year
    from_: Day | None = Field(default=None, alias="from")
    to: Day | None = None
    every_year: Yearly | None = None
    # the scope: every key present must hold (absent = everyone)
    segments: list[Alias] | None = None
    pipelines: list[Alias] | None = None
    sections: list[Alias] | None = None  # catalog sections: only their rows get the multiplier
    levels: list[Alias] | None = None
    birthday: bool = False  # only contacts whose birthday falls inside the window
    when: Condition | None = None
    # the effect
    multiplier: Number | None = None  # of every percent rule's rate: 2 = twice the points
    bonus: Kopecks | None = None  # a fixed bonus per contact of a deal won in the window
    max_share: Percent | None = None  # points pay at most this % of an order in the window
    budget: Kopecks | None = None  # a window's accruals never exceed this, portal-wide

    @model_validator(mode="after")
    def _shape(self) -> Campaign:
        one_off = self.from_ is not None or self.to is not None
        if one_off == (self.every_year is not None):
            raise ValueError("give the window: either from/to dates or every_year: {from, to}")
        if one_off and (self.from_ is None or self.to is None):
            raise ValueError("a one-off window needs both 'from' and 'to' (YYYY-MM-DD)")
        if self.from_ is not None and self.to is not None and self.to < self.from_:
            raise ValueError(f"the window ends ({self.to}) before it begins ({self.from_})")
        if self.multiplier is None and self.bonus is None and self.max_share is None:
            raise ValueError("give an effect: multiplier, bonus or max_share")
        if self.multiplier is not None and not Decimal(1) < self.multiplier <= Decimal(10):
            raise ValueError(f"a multiplier must be above 1 and at most 10, got {self.multiplier}")
        if self.bonus is not None and self.bonus <= 0:
            raise ValueError("a bonus must be above 0")
        if self.budget is not None and self.multiplier is None and self.bonus is None:
            raise ValueError("a budget caps points: give a multiplier or a bonus")
        if self.budget is not None and self.budget <= 0:
            raise ValueError("a budget must be above 0")
        return self

    @property
    def once(self) -> tuple[date, date]:
        """A one-off window's first and last day (the model makes sure both are given)."""
        if self.from_ is None or self.to is None:
            raise ValueError(f"campaign {self.id} has no one-off window")
        return self.from_, self.to

    def rule_id(self, window_start: date) -> str:
        """What the campaign's accruals in the window starting that day are recorded under:
        a budget is each window's (a yearly campaign's budget is renewed every year)."""
        return f"campaign:{self.id}:{window_start.isoformat()}"
