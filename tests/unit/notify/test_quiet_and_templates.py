"""Quiet hours, texts and the program's notification settings."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from kopilka.notify import contacts as c
from kopilka.notify.quiet import quiet_until
from kopilka.notify.templates import render
from kopilka.program.errors import ProgramFileError
from kopilka.program.loader import parse_program
from kopilka.program.notify import TEMPLATE_NAMES, parse_quiet_hours

MSK = ZoneInfo("Europe/Moscow")
NIGHT = (21 * 60, 9 * 60)


@pytest.mark.parametrize(
    ("local", "until"),
    [
        (datetime(2027, 3, 1, 20, 59, tzinfo=MSK), None),
        (datetime(2027, 3, 1, 21, 0, tzinfo=MSK), datetime(2027, 3, 2, 9, 0, tzinfo=MSK)),
        (datetime(2027, 3, 1, 23, 59, tzinfo=MSK), datetime(2027, 3, 2, 9, 0, tzinfo=MSK)),
        (datetime(2027, 3, 2, 3, 0, tzinfo=MSK), datetime(2027, 3, 2, 9, 0, tzinfo=MSK)),
        (datetime(2027, 3, 2, 9, 0, tzinfo=MSK), None),
    ],
)
def test_quiet_hours_across_midnight(local: datetime, until: datetime | None) -> None:
    assert quiet_until(local.astimezone(UTC), MSK, NIGHT) == until


def test_quiet_hours_within_a_day_and_off() -> None:
    lunch = (13 * 60, 14 * 60)
    assert quiet_until(datetime(2027, 3, 1, 13, 30, tzinfo=MSK), MSK, lunch) == datetime(
        2027, 3, 1, 14, 0, tzinfo=MSK
    )
    assert quiet_until(datetime(2027, 3, 1, 14, 0, tzinfo=MSK), MSK, lunch) is None
    assert quiet_until(datetime(2027, 3, 1, 23, 0, tzinfo=MSK), MSK, None) is None
    assert parse_quiet_hours("") is None
    assert parse_quiet_hours("21:00-09:00") == NIGHT
    with pytest.raises(ValueError, match="HH:MM-HH:MM"):
        parse_quiet_hours("9pm-9am")


PROGRAM = """\
program: clinic
title: Клиника «Роза»
{extra}
"""


def program(extra: str = "", locale: str = "ru") -> object:
    return parse_program(PROGRAM.format(extra=f"locale: {locale}\n{extra}"), "clinic.yaml")


def test_every_builtin_text_renders_in_both_languages() -> None:
    variables = {
        "name": "Анна", "full_name": "Анна Смирнова", "contact_id": 7, "amount": "500",
        "balance": "1 500", "pending": True, "available_on": "01.04.2027", "deal": "12",
        "card": "+79123456789", "phone": "+79123456789", "other_contact": "3",
        "birthday": "15.03", "expires_on": "01.04.2027", "registered_at": "01.03.2027 10:00",
        "email": "anna@example.ru", "amount_words": "500 бонусов", "balance_words": "1 500 бонусов",
    }  # fmt: skip
    for locale in ("ru", "en"):
        p = program(locale=locale)
        for name in TEMPLATE_NAMES:
            text = render(p, name, **variables)  # type: ignore[arg-type]
            assert text.body, name
            assert "{{" not in text.body
            assert "{%" not in text.body
            if name.endswith((".email", ".todo")):
                assert text.subject, name
    ru = render(program(), "accrual.sms", **variables)  # type: ignore[arg-type]
    assert ru.body == (
        "Анна, вам начислено 500 бонусов (станут доступны 01.04.2027). Баланс: 1 500. "
        "Клиника «Роза»"
    )
    # the unit agrees with the number (amount_words: domain.words), never «1 бонусов»
    one = render(program(), "accrual.sms", **variables | {"amount": "1", "amount_words": "1 бонус"})  # type: ignore[arg-type]
    assert one.body.startswith("Анна, вам начислено 1 бонус (")
    en = render(
        program(locale="en"),
        "accrual.email",
        **variables | {"amount_words": "500 points"},  # type: ignore[arg-type]
    )
    assert en.subject == "You earned 500 points"
    assert "for order #12" in en.body


def test_the_program_overrides_a_text() -> None:
    p = program('notifications:\n  templates:\n    accrual.sms: "+{{ amount }} у {{ name }}"\n')
    assert render(p, "accrual.sms", amount="10", name="Ани").body == "+10 у Ани"  # type: ignore[arg-type]
    assert "Остаток: 2" in render(p, "redemption.sms", amount="1", name="А", balance="2").body  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("extra", "line", "words"),
    [
        ("notifications:\n  templates:\n    acrual.sms: x\n", 5, 'did you mean "accrual.sms"'),
        ("notifications:\n  templates:\n    accrual.sms: '{{ amount'\n", 5, "line 1"),
        ("notifications:\n  quiet_hours: '9-21'\n", 5, "HH:MM-HH:MM"),
        ("cards:\n  required: [NAME]\n", 5, "PHONE must be among"),
        ("cards:\n  required: [PHONE, name]\n", 5, "not a contact field"),
        ("registration:\n  todo_after_minutes: -1\n", 5, "must be at least 0"),
    ],
)
def test_a_bad_notification_block_names_the_line(extra: str, line: int, words: str) -> None:
    with pytest.raises(ProgramFileError) as caught:
        program(extra)
    text = str(caught.value)
    assert words in text
    assert f":{line}" in text


def test_contact_helpers() -> None:
    contact = {
        "ID": "5",
        "NAME": "Анна",
        "LAST_NAME": "Смирнова",
        "PHONE": [{"VALUE": "8 (495) 123-45-67"}, {"VALUE": "8 912 345-67-89"}],
        "EMAIL": [{"VALUE": "nope"}, {"VALUE": "anna@example.ru"}],
        "ASSIGNED_BY_ID": "3",
        "BIRTHDATE": "1990-05-17T03:00:00+03:00",
        "UF_CRM_LIST": ["", "44"],
    }
    assert c.sms_phone(contact) == "+79123456789"  # the landline is no use for SMS
    assert c.raw_phone(contact) == "8 (495) 123-45-67"
    assert c.email(contact) == "anna@example.ru"
    assert c.full_name(contact) == "Анна Смирнова"
    assert c.responsible(contact) == "3"
    assert str(c.birth_date(contact)) == "1990-05-17"
    assert c.filled(contact, "UF_CRM_LIST")
    assert not c.filled(contact, "UF_CRM_MISSING")
    assert c.truthy("Y")
    assert not c.truthy("N")
    assert c.birth_date({"BIRTHDATE": ""}) is None
    assert c.responsible({"ASSIGNED_BY_ID": "0"}) is None
    assert c.full_name({"ID": "9"}) == "№9"
