"""What the customer reads about points: the program's unit (баллы or бонусы) with Russian
plural forms from CLDR's rules (Babel), and the dates of the program's time zone."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel import Locale

from kopilka.domain.money import MINOR_PER_UNIT, format_points

#: The forms of each unit by CLDR plural category (``one`` 1, 21; ``few`` 2–4; ``many`` 5–20;
#: ``other`` fractions: 2,5 балла).
UNITS: dict[str, dict[str, str]] = {
    "баллы": {"one": "балл", "few": "балла", "many": "баллов", "other": "балла"},
    "бонусы": {"one": "бонус", "few": "бонуса", "many": "бонусов", "other": "бонуса"},
}
ENGLISH = {"one": "point", "other": "points"}


def unit_word(minor: int, unit: str, lang: str) -> str:
    """The unit's word that agrees with ``minor`` kopecks of points in ``lang``."""
    number = abs(Decimal(minor) / MINOR_PER_UNIT)
    if number == number.to_integral_value():
        number = number.to_integral_value()
    form = Locale.parse(lang).plural_form(number)
    if lang == "en":
        return ENGLISH.get(form, ENGLISH["other"])
    forms = UNITS.get(unit, UNITS["баллы"])
    return forms.get(form, forms["many"])


def amount(minor: int, unit: str, lang: str) -> str:
    """«375 баллов», «1 бонус», "21 points"."""
    return f"{format_points(minor)}\u00a0{unit_word(minor, unit, lang)}"


PURCHASES = {
    "ru": {"one": "покупка", "few": "покупки", "many": "покупок", "other": "покупки"},
    "en": {"one": "purchase", "other": "purchases"},
}


def purchases(n: int, lang: str) -> str:
    """«1 покупка», «3 покупки», "1 purchase"."""
    forms = PURCHASES.get(lang, PURCHASES["ru"])
    return f"{n}\u00a0{forms.get(Locale.parse(lang).plural_form(abs(n)), forms['other'])}"


def plural_title(unit: str, lang: str) -> str:
    """The unit as a heading: «Баллы», «Бонусы», "Points"."""
    return "Points" if lang == "en" else unit.capitalize()


def local_date(moment: datetime | None, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%d.%m.%Y") if moment else ""
