"""The UniSender fake is as strict as ``reference/integrations.md`` §3.1 (issue 15, item 9): what
the real API refuses, the fake refuses, so a test against it cannot pass on a request UniSender
would not take."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from kopilka.fakes import UniSenderFake

SMS = {"api_key": "k", "phone": "79123456789", "sender": "Clinic", "text": "Вам 500 бонусов"}
EMAIL = {
    "api_key": "k",
    "email": "Иван Петров <ivan@clinic.example>",
    "sender_name": "Клиника",
    "sender_email": "bonus@clinic.example",
    "subject": "Вам начислено 500 бонусов",
    "body": "<p>Спасибо!</p>",
    "list_id": "7",
}


def call(
    fake: UniSenderFake, method: str, form: dict[str, str], query: str = "?format=json"
) -> Any:
    answer = httpx.post(f"{fake.url}/ru/api/{method}{query}", data=form, timeout=5)
    assert answer.status_code == 200  # UniSender answers errors with 200 too
    return answer.json()


@pytest.fixture
def fake() -> Any:
    with UniSenderFake(
        api_key="k", senders=("Clinic",), sender_emails=("bonus@clinic.example",), list_ids=(7,)
    ) as running:
        yield running


def test_well_formed_calls_are_taken(fake: UniSenderFake) -> None:
    assert call(fake, "sendSms", SMS)["result"]["sms_id"]
    assert call(fake, "sendEmail", EMAIL)["result"]["email_id"]
    assert [m.sender for m in fake.messages] == ["Clinic"]
    assert [e.email for e in fake.emails] == ["Иван Петров <ivan@clinic.example>"]


@pytest.mark.parametrize(
    ("method", "change", "query", "code", "says"),
    [
        ("sendSms", {}, "", "invalid_arg", "format"),
        ("sendSms", {}, "?format=html", "invalid_arg", "format"),
        ("sendSms", {"sender": "Shop"}, "?format=json", "src_invalid", "not registered"),
        ("sendSms", {"text": "б" * 1001}, "?format=json", "invalid_arg", "longer than 1000"),
        ("sendEmail", {"email": "ivan@"}, "?format=json", "invalid_arg", "email"),
        ("sendEmail", {"email": "Иван <ivan>"}, "?format=json", "invalid_arg", "email"),
        (
            "sendEmail",
            {"sender_email": "shop@other.example"},
            "?format=json",
            "invalid_arg",
            "not a verified address",
        ),
        ("sendEmail", {"list_id": "8"}, "?format=json", "invalid_arg", "not a list"),
        ("sendEmail", {"list_id": "news"}, "?format=json", "invalid_arg", "list_id"),
    ],
)
def test_what_the_reference_refuses_the_fake_refuses(
    fake: UniSenderFake, method: str, change: dict[str, str], query: str, code: str, says: str
) -> None:
    form = {**(SMS if method == "sendSms" else EMAIL), **change}
    answer = call(fake, method, form, query)
    assert answer["code"] == code
    assert says in answer["error"]
    assert "result" not in answer
    assert fake.messages == []
    assert fake.emails == []


def test_a_text_of_exactly_1000_characters_is_taken(fake: UniSenderFake) -> None:
    assert "result" in call(fake, "sendSms", {**SMS, "text": "б" * 1000})
