"""The program file's ``mailing`` block (issue 18, item 6): named segments of the portal's
customers for marketing mailings, exported to a UniSender list or as CSV (``kopilka.segments``).

```yaml
mailing:
  segments:
    wholesale-offer:
      title: Оптовикам — весеннее предложение
      segments: [wholesale]        # the program's contact segments (type, classifier)
      levels: [gold]               # optional: these levels only
      balance: {min: 100}          # optional: points available, min and/or max
      last_purchase: {within_days: 90}   # or {older_than_days: 180}, or never: true
      expiring_within_days: 30     # optional: has points expiring in the next N days
      channel: email               # email | sms | any: the contacts it needs
      unisender_list: 12           # the UniSender list it is exported to
      daily: true                  # exported every day by the worker
```

Every key but ``title`` is optional; every key present must hold. Contacts opted out of messages
are never in a mailing segment.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import Field, model_validator

from kopilka.program.types import Alias, Number, Strict
from kopilka.program.yamlsource import Path


class BalanceRange(Strict):
    min: Number | None = None  # points
    max: Number | None = None

    @model_validator(mode="after")
    def _ordered(self) -> BalanceRange:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is above max")
        return self


class LastPurchase(Strict):
    within_days: int | None = Field(default=None, gt=0)  # bought within the last N days
    older_than_days: int | None = Field(default=None, gt=0)  # last bought over N days ago
    never: bool = False  # never bought (no won deal)

    @model_validator(mode="after")
    def _one(self) -> LastPurchase:
        given = [self.within_days is not None, self.older_than_days is not None, self.never]
        if sum(given) != 1:
            raise ValueError("give one of within_days, older_than_days, never: true")
        return self


class MailingSegment(Strict):
    title: str = Field(min_length=1)
    segments: list[Alias] | None = None
    levels: list[Alias] | None = None
    balance: BalanceRange | None = None
    last_purchase: LastPurchase | None = None
    expiring_within_days: int | None = Field(default=None, gt=0, le=366)
    channel: Literal["email", "sms", "any"] = "any"
    unisender_list: int | None = Field(default=None, gt=0)
    daily: bool = False

    @model_validator(mode="after")
    def _daily_needs_a_list(self) -> MailingSegment:
        if self.daily and self.unisender_list is None:
            raise ValueError("daily: true needs unisender_list (where the daily export goes)")
        return self


class Mailing(Strict):
    segments: dict[Alias, MailingSegment] = Field(default_factory=dict)


def check_mailing(
    mailing: Mailing, segments: Iterable[str], levels: Iterable[str]
) -> list[tuple[Path, str]]:
    """Names a mailing segment uses that the program does not define."""
    known = {"segment": sorted(segments), "level": sorted(levels)}
    found: list[tuple[Path, str]] = []
    for alias, seg in mailing.segments.items():
        for what, used in (("segment", seg.segments), ("level", seg.levels)):
            for index, name in enumerate(used or ()):
                if name not in known[what]:
                    listed = ", ".join(known[what]) or f"none — define {what}s first"
                    path: Path = ("mailing", "segments", alias, f"{what}s", index)
                    found.append((path, f"unknown {what} '{name}' — known: {listed}"))
    return found
