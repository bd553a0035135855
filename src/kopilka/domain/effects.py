"""What the engine decides for one deal: accruals, a redemption, levels and discount offers.

All amounts are integer kopecks (points: 1 point = 100 minor units). ``rule_inputs`` are plain
JSON values so that the ledger can store them next to the entry they explain (DESIGN D8).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

CappedBy = Literal["share", "balance", "none", "pipeline"]


@dataclass(frozen=True, slots=True)
class Accrual:
    contact_id: int
    amount: int
    rule_id: str
    rule_inputs: dict[str, Any]
    explanation_ru: str
    explanation_en: str
    available_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class Redemption:
    """Points paying part of the order. ``capped_by="pipeline"``: not allowed in this pipeline."""

    contact_id: int
    requested: int
    amount: int
    cap: int  # the largest amount allowed (min of the share cap and the balance)
    capped_by: CappedBy
    rule_inputs: dict[str, Any]
    explanation_ru: str
    explanation_en: str


@dataclass(frozen=True, slots=True)
class LevelStatus:
    level_id: str | None  # None: below the first tier
    title: str | None
    percent: Decimal
    payable_share: Decimal | None
    metric: int  # won deals, or kopecks of purchases
    next_level_id: str | None
    next_threshold: int | None
    remaining_to_next: int | None


@dataclass(frozen=True, slots=True)
class DiscountOffer:
    contact_id: int
    discount_id: str
    title: str
    percent: Decimal | None
    amount: int | None  # kopecks: the discount on this contact's share, or spendable points
    applicable: bool
    note_ru: str
    note_en: str


@dataclass(frozen=True, slots=True)
class DealEffects:
    deal_id: int
    program_hash: str
    accruals: tuple[Accrual, ...] = ()
    redemption: Redemption | None = None
    levels: dict[int, LevelStatus] = field(default_factory=dict)
    offers: tuple[DiscountOffer, ...] = ()
    split: dict[int, int] = field(default_factory=dict)  # contact -> kopecks of eligible_amount
    eligible_amount: int = 0
    warnings: tuple[str, ...] = ()  # e.g. CEL conditions that failed to evaluate
    #: the share of the order points may pay, set by a campaign on (None: the level's or the
    #: program's)
    payable_share: Decimal | None = None

    @property
    def total_accrued(self) -> int:
        return sum(a.amount for a in self.accruals)
