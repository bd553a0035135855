"""The portal's vocabulary: pipelines, catalog sections, segments, mapped user fields, points."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator

from kopilka.program.conditions import Condition
from kopilka.program.types import Number, Strict, UfCode


class Pipeline(Strict):
    id: int = Field(ge=0)  # CATEGORY_ID; the default pipeline is 0
    title: str


class CatalogSection(Strict):
    id: int = Field(ge=0)  # SECTION_ID of the product catalog
    title: str


class Segment(Strict):
    title: str
    when: Condition


class Points(Strict):
    rounding: Literal["down", "half_up", "up"] = "down"
    step: Number = Decimal(1)  # 1 = whole points, 0.01 = hundredths
    #: what the customer calls them in Russian (the cabinet, cards); "points" in English
    unit: Literal["баллы", "бонусы"] = "баллы"

    @field_validator("step")
    @classmethod
    def _known_step(cls, value: Decimal) -> Decimal:
        if value not in (Decimal(1), Decimal("0.01")):
            raise ValueError(f"step must be 1 or 0.01, got {value}")
        return value

    @property
    def step_minor(self) -> int:
        return int(self.step * 100)


class ContactFields(Strict):
    balance: UfCode | None = None
    level: UfCode | None = None
    percent: UfCode | None = None
    won_deals: UfCode | None = None
    card_number: UfCode | None = None
    birthday_flag: UfCode | None = None
    purchases_total: UfCode | None = None
    pending: UfCode | None = None
    expiring_soon: UfCode | None = None


class DealFields(Strict):
    pay_with_points: UfCode | None = None  # «Сколько списать баллов»
    points_paid: UfCode | None = None  # «Оплачено баллами»: the amount applied
    points_earned: UfCode | None = None  # «Начислено баллов»
    balance: UfCode | None = None  # «Баланс клиента»: the payer's available points
    max_payable: UfCode | None = None  # «Можно оплатить баллами»: this deal's cap


class FieldReads(Strict):
    """The portal's own user fields that rules read (Kopilka reads them, never creates them)."""

    contact: list[UfCode] = Field(default_factory=list)
    deal: list[UfCode] = Field(default_factory=list)


class Fields(Strict):
    contact: ContactFields = ContactFields()
    deal: DealFields = DealFields()
    read: FieldReads = FieldReads()


#: an https address (no quotes, spaces, commas or semicolons: it goes into the page's CSP) or
#: a small image inline
LOGO = (
    r"^(https://[A-Za-z0-9.-]+(:[0-9]+)?(/[^\s;,'\"<>]*)?"
    r"|data:image/(png|jpeg|webp|svg\+xml);base64,[A-Za-z0-9+/=]+)$"
)


class Shop(Strict):
    """The shop as its customers know it (the cabinet's heading): the name (the program's
    title when unset) and a logo, an https address or a ``data:image/…`` URI."""

    name: str | None = Field(default=None, min_length=1, max_length=80)
    logo: str | None = Field(default=None, pattern=LOGO)
