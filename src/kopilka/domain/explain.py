"""Words for managers and customers: Russian plurals, percents and amounts."""

from __future__ import annotations

from decimal import Decimal

from kopilka.domain.money import MINOR_PER_UNIT, format_points, format_rub


def plural_ru(minor: int, one: str, few: str, many: str) -> str:
    """Russian noun form for an amount of points: 1 бонус, 2 бонуса, 5 бонусов, 1,5 бонуса."""
    whole, frac = divmod(abs(minor), MINOR_PER_UNIT)
    if frac:
        return few  # fractions take the genitive singular: «1,5 бонуса»
    if whole % 100 in range(11, 15):
        return many
    last = whole % 10
    if last == 1:
        return one
    if last in (2, 3, 4):
        return few
    return many


def points_ru(minor: int) -> str:
    return f"{format_points(minor)} {plural_ru(minor, 'бонус', 'бонуса', 'бонусов')}"


def points_en(minor: int) -> str:
    return f"{format_points(minor)} {'point' if minor == MINOR_PER_UNIT else 'points'}"


def percent_text(value: Decimal, *, locale: str = "ru") -> str:
    text = format(value.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return (text.replace(".", ",") if locale == "ru" else text) + "\u00a0%"


def rub(minor: int) -> str:
    return format_rub(minor)
