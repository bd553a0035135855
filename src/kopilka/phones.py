"""Phone numbers: the one place that turns what people type into E.164.

A card number is the customer's phone (R-17), so the same normalisation serves card issue, site
registration, the cabinet's login and the public API's lookups.
"""

from __future__ import annotations

import phonenumbers


class InvalidPhone(ValueError):
    """The text is not a valid phone number (the message says why, in English)."""


def normalize_phone(raw: str, *, region: str = "RU") -> str:
    """``'8 (912) 345-67-89'`` → ``'+79123456789'``; raises :class:`InvalidPhone`.

    ``region`` is the default for numbers written without a country code: in Russia a leading
    ``8`` and a bare ten-digit number both mean ``+7``.
    """
    text = raw.strip()
    if not text:
        raise InvalidPhone("the phone number is empty")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(f"not a phone number: {exc}") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("not a valid phone number (wrong length or unknown range)")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_mobile(e164: str) -> bool:
    """Whether an E.164 number can receive SMS (mobile, or fixed-or-mobile where the plan
    cannot tell)."""
    kind = phonenumbers.number_type(phonenumbers.parse(e164))
    return kind in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
