"""Amounts as integer minor units (kopecks / hundredths of a point).

Money and points are stored as ``int`` hundredths everywhere (DESIGN D12). ``Decimal`` appears
only at the edges: parsing what a person typed and formatting what a person reads.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal, InvalidOperation
from typing import Literal

from kopilka.domain.errors import InvalidAmount

MINOR_PER_UNIT = 100
Rounding = Literal["down", "half_up", "up"]
_ROUNDING = {"down": ROUND_DOWN, "half_up": ROUND_HALF_UP, "up": ROUND_UP}


def to_minor(value: str | int | Decimal, *, allow_zero: bool = False) -> int:
    """Parse a human amount ("12.50", 12, Decimal("3")) into minor units.

    Refuses floats (inexact), more than two decimals, negatives and (unless allowed) zero.
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise InvalidAmount(f"amount {value!r} must be given as text or an integer, not a float")
    try:
        dec = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        raise InvalidAmount(f"amount {value!r} is not a number") from None
    if not dec.is_finite():
        raise InvalidAmount(f"amount {value!r} is not a finite number")
    exponent = dec.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and dec != dec.quantize(Decimal("0.01")):
        raise InvalidAmount(f"amount {value!r} has more than 2 decimals")
    if dec < 0:
        raise InvalidAmount(f"amount {value!r} is negative")
    if dec == 0 and not allow_zero:
        raise InvalidAmount("amount must be greater than zero")
    return int(dec * MINOR_PER_UNIT)


def from_minor(minor: int) -> Decimal:
    return (Decimal(minor) / MINOR_PER_UNIT).quantize(Decimal("0.01"))


def percent_of(
    minor: int, percent: Decimal, *, rounding: Rounding = "down", step: int = 100
) -> int:
    """``percent`` % of ``minor``, rounded to a multiple of ``step`` minor units."""
    raw = Decimal(minor) * percent / Decimal(100) / Decimal(step)
    return int(raw.quantize(Decimal(1), rounding=_ROUNDING[rounding])) * step


def format_points(minor: int) -> str:
    """12345600 -> '123 456', 1050 -> '10,50' (Russian grouping, no currency sign)."""
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), MINOR_PER_UNIT)
    text = f"{whole:,}".replace(",", "\u00a0")
    if frac:
        text += f",{frac:02d}"
    return sign + text


def format_rub(minor: int) -> str:
    return f"{format_points(minor)}\u00a0₽"
