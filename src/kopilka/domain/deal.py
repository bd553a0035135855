"""What the engine reads: a deal as Bitrix24 shows it, already parsed into plain values.

The Bitrix24 connector turns REST answers (strings, "Y"/"N", portal offsets) into these; the
engine never sees wire formats. Amounts are integer kopecks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

StageSemantic = Literal["process", "won", "lost"]


@dataclass(frozen=True, slots=True)
class ProductRow:
    product_id: int | None
    name: str
    price: int  # kopecks per unit, after the row's own discount
    quantity: int = 1
    section_id: int | None = None  # catalog section of the product, None when unknown
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.price * self.quantity


@dataclass(frozen=True, slots=True)
class Contact:
    id: int
    type_id: str | None = None  # TYPE_ID, e.g. "CLIENT"
    fields: dict[str, Any] = field(default_factory=dict)  # UF_CRM_* and other plain fields
    birthdate: date | None = None
    share: int | None = None  # weight for "share_field" splitting, read from the mapped field
    is_primary: bool = False


@dataclass(frozen=True, slots=True)
class Deal:
    id: int
    pipeline_id: int  # CATEGORY_ID
    stage: StageSemantic
    opportunity: int  # kopecks, as the portal computed it
    contacts: tuple[Contact, ...]
    company_id: int | None = None
    rows: tuple[ProductRow, ...] = ()
    points_to_pay: int = 0  # kopecks the manager asked to pay with points (deal field)
    #: kopecks of points the deal's contacts pay through their offers-list elements (R-13):
    #: paid with points as much as the deal field's amount, so no points are earned on them
    points_paid_by_contacts: int = 0
    closed_at: datetime | None = None
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CustomerHistory:
    """What the engine needs to know of a customer beyond this deal (from Kopilka's own tables).

    Counts and sums exclude the deal being evaluated; the engine adds it when the program says so.
    """

    won_deals: int = 0
    purchases_total: int = 0  # kopecks
    won_deals_by_pipeline: dict[int, int] = field(default_factory=dict)
    purchases_by_pipeline: dict[int, int] = field(default_factory=dict)
    available_points: int = 0  # spendable balance in kopecks of points
