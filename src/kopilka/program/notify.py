"""What the program decides about cards, registration and messages (R-17, R-18, R-20, R-21).

cards:
  required: [NAME, LAST_NAME, PHONE, UF_CRM_DOCTOR_CLASS]   # a contact saved with all of
                                                           # these gets a card
registration:
  todo_after_minutes: 60        # the manager's follow-up to-do, this long after registering
  responsible_id: 1             # who gets new contacts (and their to-dos)
notifications:
  sms: true                     # customer SMS on accrual and redemption
  email: true                   # customer e-mail on accrual and redemption
  manager_chat: true            # chat notice of an accrual to the responsible manager
  ask_for_email: true           # chat notice when the contact has no e-mail
  birthdays: true               # R-21 reminders and the greeting e-mail
  expiring_days: 7              # "points expire in 7 days" (off when unset)
  opt_out_field: UF_CRM_NO_ADS  # a contact field: "Y"/"1" means no messages
  quiet_hours: "21:00-09:00"    # no SMS in these hours (program time zone)
  templates:                    # override any text (Jinja2)
    accrual.sms: "+{{ amount }} бонусов! Баланс: {{ balance }}"
"""

from __future__ import annotations

import re

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from pydantic import Field, field_validator

from kopilka.program.types import Strict, UfCode, suggest

#: Every text Kopilka sends, by name (``<message>.<channel>``); the built-in Russian and
#: English versions live in ``kopilka/notify/templates``. An e-mail's first line is its subject.
TEMPLATE_NAMES = (
    "accrual.sms",
    "accrual.email",
    "accrual.chat",
    "redemption.sms",
    "redemption.email",
    "reversal.sms",
    "reversal.email",
    "no_email.chat",
    "card_issued.timeline",
    "card_no_phone.chat",
    "card_bad_phone.chat",
    "card_phone_taken.chat",
    "birthday_no_card.chat",
    "birthday_no_date.chat",
    "birthday_tomorrow.chat",
    "birthday_digest.chat",
    "birthday_greeting.email",
    "registration.todo",
    "expiring.sms",
    "expiring.email",
)

_FIELD = re.compile(r"^(?:[A-Z][A-Z_]*|UF_CRM_[A-Z0-9_]+)$")
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


def parse_quiet_hours(text: str) -> tuple[int, int] | None:
    """``"21:00-09:00"`` → minutes of the day (1260, 540); ``""`` → None."""
    if not text.strip():
        return None
    match = _HOURS.match(text.strip())
    if match is None:
        raise ValueError(f"quiet hours {text!r}: write them as HH:MM-HH:MM, e.g. 21:00-09:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    return h1 * 60 + m1, h2 * 60 + m2


class Cards(Strict):
    #: Contact fields that must be filled for a card (standard names or UF_CRM_ codes).
    required: list[str] = Field(default_factory=lambda: ["NAME", "LAST_NAME", "PHONE"])

    @field_validator("required")
    @classmethod
    def _fields(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _FIELD.match(name):
                raise ValueError(
                    f"{name!r} is not a contact field: use NAME, LAST_NAME, PHONE, … or UF_CRM_…"
                )
        if "PHONE" not in value:
            raise ValueError("the card number is the phone: PHONE must be among the required")
        return value


class Registration(Strict):
    todo_after_minutes: int = Field(default=60, ge=0, le=60 * 24 * 30)
    #: The user who gets new contacts and their to-dos (ASSIGNED_BY_ID); unset: the portal's.
    responsible_id: int | None = Field(default=None, gt=0)


class Notifications(Strict):
    """Every message is off until the program turns it on (a business decides what its
    customers and managers receive)."""

    sms: bool = False
    email: bool = False
    manager_chat: bool = False
    ask_for_email: bool = False
    birthdays: bool = False
    expiring_days: int | None = Field(default=None, ge=1, le=365)
    opt_out_field: UfCode | None = None
    quiet_hours: str | None = None  # unset: the installation's setting
    templates: dict[str, str] = Field(default_factory=dict)

    @field_validator("quiet_hours")
    @classmethod
    def _hours(cls, value: str | None) -> str | None:
        if value is not None:
            parse_quiet_hours(value)
        return value

    @field_validator("templates")
    @classmethod
    def _templates(cls, value: dict[str, str]) -> dict[str, str]:
        env = SandboxedEnvironment()
        for name, text in value.items():
            if name not in TEMPLATE_NAMES:
                known = list(TEMPLATE_NAMES)
                raise ValueError(f"unknown template {name!r}{suggest(name, known)}")
            if not text.strip():
                raise ValueError(f"template {name!r} is empty")
            try:
                env.parse(text)
            except jinja2.TemplateSyntaxError as exc:
                raise ValueError(f"template {name!r}, line {exc.lineno}: {exc.message}") from None
        return value
