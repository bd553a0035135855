"""A local UniSender (classic API, ``reference/integrations.md`` §3.1): ``sendSms`` and
``sendEmail`` at ``/{lang}/api/{method}?format=json``.

Errors come as HTTP 200 with ``{"error": ..., "code": ...}``; a wrong ``api_key`` gets
``invalid_api_key``, a missing argument ``invalid_arg``, a bad number ``dest_invalid``.

    with UniSenderFake(api_key="test") as fake:
        ...
        fake.messages  # SMS: .phone as sent ("79123456789" or "+79123456789"), .text
        fake.emails    # e-mails: .email, .subject, .body
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kopilka.fakes._server import FakeServer, Fault

_PATH = re.compile(r"^/(ru|en|ua)/api/(\w+)$")
_PHONE = re.compile(r"^\+?[1-9]\d{9,14}$")
_SENDER = re.compile(r"^[A-Za-z0-9]{3,11}$")


@dataclass(frozen=True)
class UniSenderSms:
    phone: str
    text: str
    sender: str
    sms_id: str


@dataclass(frozen=True)
class UniSenderEmail:
    email: str
    sender_name: str
    sender_email: str
    subject: str
    body: str
    list_id: str
    email_id: str


class UniSenderFake(FakeServer):
    default_error = "retry_later"

    def __init__(self, api_key: str = "test") -> None:
        super().__init__()
        self.api_key = api_key
        self.messages: list[UniSenderSms] = []
        self.emails: list[UniSenderEmail] = []

    @staticmethod
    def _error(code: str, text: str) -> tuple[int, Any]:
        return 200, {"error": text, "code": code}

    def handle(self, path: str, form: dict[str, str], fault: Fault | None) -> tuple[int, Any]:
        if fault is not None and fault.error is not None:
            if isinstance(fault.error, int):
                return fault.error, {"error": "Internal Server Error", "code": "unspecified"}
            return self._error(str(fault.error), "Temporary failure, try again later")
        if fault is not None and not fault.accept:  # stalled, then gave up: nothing taken
            self.pause(fault.seconds)
            return self._error("retry_later", "Temporary failure, try again later")
        route = _PATH.match(path)
        if route is None:
            return self._error("unknown_method", "Unknown method")
        if form.get("api_key") != self.api_key:
            return self._error("invalid_api_key", "Invalid API key")
        method = route.group(2)
        if method == "sendSms":
            answer = self._send_sms(form)
        elif method == "sendEmail":
            answer = self._send_email(form)
        else:
            return self._error("unknown_method", f"Unknown method {method}")
        if fault is not None and fault.accept and "result" in answer[1]:
            self.pause(fault.seconds)  # accepted; the answer is late
        return answer

    def _send_sms(self, form: dict[str, str]) -> tuple[int, Any]:
        for arg in ("phone", "sender", "text"):
            if not form.get(arg, "").strip():
                return self._error("invalid_arg", f"Argument {arg} is required")
        if not _SENDER.match(form["sender"]):
            return self._error("src_invalid", "Invalid sender name")
        phones = [p.strip() for p in form["phone"].split(",") if p.strip()]
        if len(phones) != 1 or not _PHONE.match(phones[0]):
            return self._error("dest_invalid", "Invalid recipient phone number")
        with self.lock:
            sms_id = str(1000 + len(self.messages) + 1)
            self.messages.append(UniSenderSms(phones[0], form["text"], form["sender"], sms_id))
        return 200, {"result": {"currency": "RUB", "price": "0.49", "sms_id": sms_id}}

    def _send_email(self, form: dict[str, str]) -> tuple[int, Any]:
        for arg in ("email", "sender_name", "sender_email", "subject", "body", "list_id"):
            if not form.get(arg, "").strip():
                return self._error("invalid_arg", f"Argument {arg} is required")
        with self.lock:
            email_id = str(5000 + len(self.emails) + 1)
            self.emails.append(
                UniSenderEmail(
                    form["email"],
                    form["sender_name"],
                    form["sender_email"],
                    form["subject"],
                    form["body"],
                    form["list_id"],
                    email_id,
                )
            )
        return 200, {"result": {"email_id": email_id}}
