"""What a segment resolves to and what an export did."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Candidate:
    """A customer that Kopilka's own tables let through (not opted out; level, balance, last
    purchase and expiring points as the segment asks); Bitrix24 has the rest."""

    customer_id: int
    contact_id: int
    name: str
    phone: str | None


@dataclass(frozen=True, slots=True)
class Member:
    customer_id: int
    contact_id: int
    name: str
    email: str | None
    phone: str | None  # E.164


@dataclass(frozen=True, slots=True)
class ListRow:
    """One contact's addresses as a list gets them: put in, or (``delete``) taken out."""

    customer_id: int
    email: str | None
    phone: str | None
    name: str = ""
    delete: bool = False


@dataclass
class Export:
    segment: str
    target: str  # unisender | csv
    contacts: int = 0
    inserted: int = 0
    updated: int = 0
    invalid: int = 0
    deleted: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    export_id: int | None = None
