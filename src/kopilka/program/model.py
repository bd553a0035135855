"""The program file as a whole (DESIGN D8): one frozen model, read by ``program.loader``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, PrivateAttr, field_validator

from kopilka.program.campaigns import Campaign
from kopilka.program.catalog import CatalogSection, Fields, Pipeline, Points, Segment, Shop
from kopilka.program.errors import Problem
from kopilka.program.mailing import Mailing
from kopilka.program.notify import Cards, Notifications, Registration
from kopilka.program.policies import NEVER, Birthday, Expiry, ManualBonus, Redemption, Split
from kopilka.program.rules import Discount, EarnRule, EligibleSections, Levels
from kopilka.program.transfer import Transfer
from kopilka.program.types import Alias, Strict
from kopilka.program.wallet import Wallet


class Program(Strict):
    program: Alias
    title: str
    timezone: str = "Europe/Moscow"
    locale: Literal["ru", "en"] = "ru"
    points: Points = Points()
    shop: Shop = Shop()  # the shop's name and logo in the customer's cabinet
    pipelines: dict[Alias, Pipeline] = Field(default_factory=dict)
    catalog_sections: dict[Alias, CatalogSection] = Field(default_factory=dict)
    segments: dict[Alias, Segment] = Field(
        default_factory=dict
    )  # in order: the first matching segment wins
    default_segment: Alias | None = None
    earn: list[EarnRule] = Field(default_factory=list)
    levels: Levels | None = None
    eligible_sections: EligibleSections | None = None
    redemption: Redemption = Redemption()
    pending_days: int = Field(default=0, ge=0)
    expiry: Expiry = NEVER
    manual_bonuses: dict[Alias, ManualBonus] = Field(default_factory=dict)
    discounts: list[Discount] = Field(default_factory=list)
    birthday: Birthday | None = None
    split: Split = Split()
    fields: Fields = Fields()
    transfer: Transfer = Transfer()
    cards: Cards | None = None
    registration: Registration = Registration()
    notifications: Notifications = Notifications()
    campaigns: list[Campaign] = Field(default_factory=list)  # the marketing calendar
    mailing: Mailing = Mailing()  # segments for marketing mailings (program/mailing.py)
    wallet: Wallet = Wallet()  # the card in Apple / Google Wallet (program/wallet.py)

    _hash: str = PrivateAttr(default="")
    _source_name: str = PrivateAttr(default="")
    _warnings: list[Problem] = PrivateAttr(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}: use an IANA name like Europe/Moscow"
            ) from None
        return value

    @property
    def hash(self) -> str:
        """sha256 (hex) of the file's bytes; stored on every ledger entry."""
        return self._hash

    @property
    def source_name(self) -> str:
        return self._source_name

    @property
    def warnings(self) -> list[Problem]:
        """What ``kopilka check`` warns about (``program.review``); never stops loading."""
        return self._warnings

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def pipeline_ids(self, aliases: Iterable[str] | None) -> frozenset[int] | None:
        """CATEGORY_IDs of ``aliases``; None (meaning "every pipeline") when ``aliases`` is None."""
        if aliases is None:
            return None
        return frozenset(self.pipelines[a].id for a in aliases if a in self.pipelines)

    def pipeline_alias(self, pipeline_id: int) -> str | None:
        for alias, pipeline in self.pipelines.items():
            if pipeline.id == pipeline_id:
                return alias
        return None

    def section_ids(self, aliases: Iterable[str]) -> frozenset[int]:
        return frozenset(self.catalog_sections[a].id for a in aliases if a in self.catalog_sections)
