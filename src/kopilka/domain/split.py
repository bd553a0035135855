"""Splitting a deal's sum between its contacts, exactly to the kopeck."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from kopilka.domain.deal import Contact
from kopilka.program.policies import Split


def ordered(contacts: Sequence[Contact]) -> list[Contact]:
    """The primary contact first (or the first one), then the others in the deal's order."""
    primary = [c for c in contacts if c.is_primary][:1]
    return primary + [c for c in contacts if c not in primary]


def split_total(split: Split, contacts: Sequence[Contact], total: int) -> dict[int, int]:
    """Shares of ``total`` per contact id; they always sum to ``total``.

    Rounding remainders go to the primary contact. ``share_field`` uses each contact's weight
    (``Contact.share`` or the mapped field); when no contact has a weight, shares are equal.
    """
    people = ordered(contacts)
    if not people:
        return {}
    if split.mode == "primary":
        return {c.id: (total if i == 0 else 0) for i, c in enumerate(people)}
    weights = [1] * len(people)
    if split.mode == "share_field":
        weights = [_weight(c, split.field) for c in people]
        if sum(weights) == 0:
            weights = [1] * len(people)
    whole = sum(weights)
    shares = [total * w // whole for w in weights]
    shares[0] += total - sum(shares)
    return {c.id: s for c, s in zip(people, shares, strict=True)}


def _weight(contact: Contact, field: str | None) -> int:
    raw = contact.share if contact.share is not None else contact.fields.get(field or "")
    try:
        value = Decimal(str(raw).replace(",", ".")) if raw not in (None, "") else Decimal(0)
    except InvalidOperation:
        return 0
    return max(int(value * 100), 0)
