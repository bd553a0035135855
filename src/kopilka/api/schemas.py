"""Request and answer bodies of the public API. Amounts are integer minor units: kopecks of
money and hundredths of a point (1 point = 100). Every number in a request is strict: ``"100"``
or ``true`` where a number belongs is refused (422), never coerced."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

Text100 = Field(min_length=1, max_length=100, pattern=r"^[\w.:\-/#]+$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CustomerSelector(Strict):
    """Exactly one of a card number, a phone or Kopilka's customer id."""

    card: str | None = Field(None, min_length=1, max_length=40)
    phone: str | None = Field(None, min_length=1, max_length=40)
    customer_id: StrictInt | None = Field(None, ge=1, le=2**62)

    @model_validator(mode="after")
    def _exactly_one(self) -> CustomerSelector:
        given = [v for v in (self.card, self.phone, self.customer_id) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of card, phone or customer_id")
        return self


class OrderLine(Strict):
    id: str = Text100
    name: str = Field("", max_length=200)
    price: StrictInt = Field(ge=0, le=10**12, description="kopecks per unit, after line discounts")
    quantity: StrictInt = Field(1, ge=1, le=100_000)
    section_id: StrictInt | None = Field(None, ge=0, le=2**62, description="catalog section")


class OrderBody(Strict):
    customer: CustomerSelector
    lines: list[OrderLine] = Field(min_length=1, max_length=500)
    pay_points: StrictInt | None = Field(
        None, ge=0, le=10**12, description="points to pay with (minor units); omitted: the most"
    )
    pipeline_id: StrictInt = Field(
        0, ge=0, le=2**31, description="the program's pipeline it counts in"
    )

    @model_validator(mode="after")
    def _unique_lines(self) -> OrderBody:
        ids = [line.id for line in self.lines]
        if len(ids) != len(set(ids)):
            raise ValueError("line ids must be unique within an order")
        return self


class HoldBody(OrderBody):
    order_id: str = Text100
    ttl_seconds: StrictInt | None = Field(
        None, ge=1, le=30 * 86400, description="the hold's lifetime; default: the program's"
    )


class OrderRef(Strict):
    order_id: str = Text100


class RefundBody(Strict):
    order_id: str = Text100
    line_ids: list[str] | None = Field(
        None, min_length=1, max_length=500, description="lines to refund; omitted: all"
    )


class GrantBody(Strict):
    customer: CustomerSelector
    reason: str = Field(min_length=1, max_length=60, description="a manual_bonuses key")
    amount: StrictInt | None = Field(
        None, ge=1, le=10**12, description="default: the bonus's amount"
    )
    comment: str | None = Field(None, max_length=500)
    actor: str = Field("api", min_length=1, max_length=100, description="who grants")


class EarnLine(BaseModel):
    rule_id: str
    amount: int
    explanation_ru: str
    explanation_en: str


class Quote(BaseModel):
    customer_id: int
    order_total: int
    eligible_total: int
    available: int
    pay_points: int
    max_payable: int
    capped_by: str
    earn: int
    earn_lines: list[EarnLine]
    explanation_ru: str
    explanation_en: str


class HoldInfo(BaseModel):
    id: int
    amount: int
    status: str
    expires_at: datetime


class LineView(BaseModel):
    id: str
    name: str
    price: int
    quantity: int
    section_id: int | None
    refunded: bool


class OrderView(BaseModel):
    order_id: str
    status: str
    customer_id: int
    total: int
    points_paid: int
    points_earned: int
    hold: HoldInfo | None
    lines: list[LineView]


class CardInfo(BaseModel):
    number: str
    status: str


class BalanceView(BaseModel):
    customer_id: int
    total: int
    available: int
    pending: int
    held: int
    expiring: list[ExpiringLot]


class ExpiringLot(BaseModel):
    amount: int
    expires_at: datetime


class LevelView(BaseModel):
    level_id: str | None
    title: str | None
    percent: str
    metric: int
    next_level_id: str | None
    next_threshold: int | None
    remaining_to_next: int | None


class CustomerView(BaseModel):
    customer_id: int
    name: str
    phone: str | None
    card: CardInfo | None
    balance: BalanceView
    level: LevelView | None


class HistoryItem(BaseModel):
    id: int
    kind: str
    amount: int
    held: int
    reason: str
    at: datetime
    reverses: int | None


class HistoryView(BaseModel):
    customer_id: int
    items: list[HistoryItem]


class GrantView(BaseModel):
    transaction_id: int
    customer_id: int
    amount: int
    reason: str


BalanceView.model_rebuild()
