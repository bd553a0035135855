"""Pure parts of the client: the PHP query encoder, the error mapping, redaction."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import pytest

from b24emu.params import parse_query
from kopilka.bitrix24 import errors as e
from kopilka.bitrix24.client import php_query
from kopilka.bitrix24.errors import from_envelope, install_log_redaction, redact


def test_php_query_nests_with_brackets() -> None:
    query = php_query(
        {
            "filter": {">ID": 100, "@ID": [1, 2], "=ownerId": [7]},
            "select": ["ID", "TITLE"],
            "fields": {"PHONE": [{"VALUE": "+7 900 000-00-00", "VALUE_TYPE": "WORK"}]},
            "start": -1,
        }
    )
    assert parse_qsl(query) == [
        ("filter[>ID]", "100"),
        ("filter[@ID][0]", "1"),
        ("filter[@ID][1]", "2"),
        ("filter[=ownerId][0]", "7"),
        ("select[0]", "ID"),
        ("select[1]", "TITLE"),
        ("fields[PHONE][0][VALUE]", "+7 900 000-00-00"),
        ("fields[PHONE][0][VALUE_TYPE]", "WORK"),
        ("start", "-1"),
    ]
    assert "[" in query  # brackets stay readable; values are percent-encoded
    assert "%2B7%20900" in query


def test_php_query_scalars_follow_php() -> None:
    query = php_query(
        {
            "empty": [],
            "none": None,
            "yes": True,
            "no": False,
            "flag": "Y",
            "money": Decimal("10.50"),
            "ratio": 0.25,
            "day": date(2024, 1, 31),
            "moment": datetime(2024, 1, 31, 10, 0, tzinfo=UTC),
            "text": "a&b=c #1 ?",
            "nested": {"inner": {}},
        }
    )
    assert dict(parse_qsl(query, keep_blank_values=True)) == {
        "none": "",
        "yes": "1",
        "no": "0",
        "flag": "Y",
        "money": "10.50",
        "ratio": "0.25",
        "day": "2024-01-31",
        "moment": "2024-01-31T10:00:00+00:00",
        "text": "a&b=c #1 ?",
    }
    with pytest.raises(TypeError, match="object"):
        php_query({"x": object()})


def test_php_query_round_trips_through_the_emulators_php_parser() -> None:
    params: dict[str, Any] = {
        "filter": {">ID": "5", "@ID": ["1", "2"], "%TITLE": "Иван & Co"},
        "order": {"ID": "ASC"},
        "select": ["ID", "UF_CRM_1"],
    }
    assert parse_query(php_query(params)) == params


# every class of the tree, from a realistic envelope (reference §2.4)
CASES = [
    (
        401,
        {"error": "expired_token", "error_description": "The access token provided has expired"},
        e.B24TokenExpired,
    ),
    (
        401,
        {"error": "NO_AUTH_FOUND", "error_description": "Wrong authorization data"},
        e.B24InvalidCredentials,
    ),
    (401, {"error": "invalid_token", "error_description": "invalid"}, e.B24InvalidCredentials),
    (
        403,
        {"error": "INVALID_CREDENTIALS", "error_description": "Invalid request credentials"},
        e.B24InvalidCredentials,
    ),
    (
        400,
        {"error": "invalid_grant", "error_description": "Invalid refresh token"},
        e.B24InvalidCredentials,
    ),
    (
        403,
        {"error": "WRONG_AUTH_TYPE", "error_description": "Current authorization type is denied"},
        e.B24WrongAuthType,
    ),
    (
        401,
        {"error": "insufficient_scope", "error_description": "higher privileges"},
        e.B24InsufficientScope,
    ),
    (
        503,
        {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"},
        e.B24RateLimited,
    ),
    (
        429,
        {"error": "OPERATION_TIME_LIMIT", "error_description": "Method is blocked"},
        e.B24OperationLimit,
    ),
    (
        500,
        {"error": "INTERNAL_SERVER_ERROR", "error_description": "Internal server error"},
        e.B24ServerError,
    ),
    (502, None, e.B24ServerError),
    (504, "<html>Gateway Time-out</html>", e.B24ServerError),
    (400, {"error": "", "error_description": "Not found"}, e.B24NotFound),
    (400, {"error": "", "error_description": "Contact is not found"}, e.B24NotFound),
    (400, {"error": "NOT_FOUND", "error_description": "Element not found"}, e.B24NotFound),
    (
        400,
        {"error": "ERROR_NOT_FOUND", "error_description": "The entity is not found"},
        e.B24NotFound,
    ),
    (
        404,
        {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"},
        e.B24MethodNotFound,
    ),
    (403, {"error": "ACCESS_DENIED", "error_description": "Access denied!"}, e.B24AccessDenied),
    (400, {"error": "", "error_description": "Access denied."}, e.B24AccessDenied),
    (400, {"error": "", "error_description": "ID is not defined or invalid."}, e.B24BadRequest),
    (400, {"error": "ERROR_CORE", "error_description": "invalid e-mail"}, e.B24BadRequest),
    (400, {"error": 200040300010, "error_description": "catalog"}, e.B24BadRequest),
    (None, {"error": "ERROR_ARGUMENT", "error_description": "x"}, e.B24BadRequest),
]


@pytest.mark.parametrize(("status", "body", "cls"), CASES)
def test_error_mapping(status: int | None, body: Any, cls: type[e.B24Error]) -> None:
    error = from_envelope(status, body, "crm.deal.get")
    assert type(error) is cls
    assert isinstance(error, e.B24Error)
    assert error.status == status
    assert error.method == "crm.deal.get"
    assert error.code == cls.code
    if isinstance(body, dict):
        assert error.b24_error == str(body["error"])
        assert error.description == body["error_description"]
    assert str(error).startswith("crm.deal.get: ")


def test_codes_are_unique_and_the_tree_hangs_from_kopilka_error() -> None:
    classes = [c for c in vars(e).values() if isinstance(c, type) and issubclass(c, e.B24Error)]
    assert len(classes) == 15
    assert len({c.code for c in classes}) == len(classes)
    assert issubclass(e.B24Error, e.KopilkaError)
    assert issubclass(e.B24TokenExpired, e.B24AuthError)


def test_operation_limit_reads_the_reset_time_when_sent() -> None:
    body = {"error": "OPERATION_TIME_LIMIT", "time": {"operating_reset_at": 1757425271}}
    error = from_envelope(429, body, "crm.deal.list")
    assert isinstance(error, e.B24OperationLimit)
    assert error.reset_at == 1757425271.0


def test_batch_error_keeps_both_sides() -> None:
    err = from_envelope(None, {"error": "ACCESS_DENIED", "error_description": ""}, "crm.deal.get")
    batch = e.B24BatchError({"b": err}, {"a": 1}, not_run=["c"])
    assert batch.results == {"a": 1}
    assert batch.errors == {"b": err}
    assert batch.not_run == ("c",)
    assert "1 of 3 commands failed" in str(batch)


SECRET_CODE = "8g9l071eismy9q2l"
TOKEN = "s1morf609228iwyjjpvfv6wsvuja4p8u"


@pytest.mark.parametrize(
    "text",
    [
        f"https://example.bitrix24.com/rest/1/{SECRET_CODE}/crm.deal.add.json",
        f"GET /oauth/token/?grant_type=refresh_token&client_secret={TOKEN}&refresh_token={TOKEN}",
        f'{{"auth": "{TOKEN}", "fields": {{}}}}',
        f'{{"access_token":"{TOKEN}"}}',
        f"Authorization: Bearer {TOKEN}",
        f"POST https://portal/rest/crm.deal.list.json?auth={TOKEN}",
    ],
)
def test_redact_scrubs_credential_shapes(text: str) -> None:
    cleaned = redact(text)
    assert SECRET_CODE not in cleaned
    assert TOKEN not in cleaned
    assert "***" in cleaned


def test_redact_removes_known_secrets_anywhere_and_errors_use_it() -> None:
    assert redact(f"odd place {TOKEN} here", [TOKEN]) == "odd place *** here"
    error = from_envelope(
        400, {"error": "X", "error_description": f"echo {TOKEN}"}, "m", secrets=[TOKEN]
    )
    assert TOKEN not in str(error)
    assert TOKEN not in error.description
    assert TOKEN not in repr(error)


def test_the_httpx_request_log_line_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    install_log_redaction()  # idempotent
    logger = logging.getLogger("httpx")
    assert len([f for f in logger.filters if type(f).__name__ == "_RedactHttpxLog"]) == 1
    with caplog.at_level(logging.INFO, logger="httpx"):
        logger.info(
            'HTTP Request: %s %s "%s"',
            "POST",
            f"https://p.bitrix24.ru/rest/1/{SECRET_CODE}/crm.deal.list.json",
            "HTTP/1.1 200 OK",
        )
    assert SECRET_CODE not in caplog.text
    assert "crm.deal.list.json" in caplog.text
