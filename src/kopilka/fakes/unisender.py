"""A local UniSender (classic API, ``reference/integrations.md`` §3.1): ``sendSms`` and
``sendEmail`` at ``/{lang}/api/{method}?format=json``.

Errors come as HTTP 200 with ``{"error": ..., "code": ...}``; a wrong ``api_key`` gets
``invalid_api_key``, a call without ``format=json`` or a missing or malformed argument
``invalid_arg``, a bad number ``dest_invalid``, a sender name the account has not registered
``src_invalid``. As the reference says: ``text`` is at most 1000 characters; ``email`` is an
address or ``Name <address>``; ``sender_email`` must be one the account verified and
``list_id`` one of its lists (``sender_emails`` and ``list_ids``; None accepts any well-formed
value); SMS go to one number per call here (the reference leaves the answer for several
numbers unverified).

    with UniSenderFake(api_key="test", senders=("Clinic",)) as fake:
        ...
        fake.messages  # SMS: .phone as sent ("79123456789" or "+79123456789"), .text
        fake.emails    # e-mails: .email, .subject, .body
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from kopilka.fakes._server import FakeServer, Fault

_PATH = re.compile(r"^/(ru|en|ua)/api/(\w+)$")
_PHONE = re.compile(r"^\+?[1-9]\d{9,14}$")
_SENDER = re.compile(r"^[A-Za-z0-9]{3,11}$")
_ADDRESS = re.compile(r"^[^@\s<>,]+@[^@\s<>,]+\.[^@\s<>,]+$")
_NAMED = re.compile(r"^[^<>]*<([^<>]+)>$")
TEXT_MAX = 1000


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

    def __init__(
        self,
        api_key: str = "test",
        *,
        senders: Collection[str] = ("Kopilka",),
        sender_emails: Collection[str] | None = None,
        list_ids: Collection[int] | None = None,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.senders = frozenset(senders)  # SMS sender names the account registered
        self.sender_emails = None if sender_emails is None else frozenset(sender_emails)
        self.list_ids = None if list_ids is None else frozenset(list_ids)
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
        if form.get("format") != "json":
            return self._error("invalid_arg", "Argument format must be json")
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
        if form["sender"] not in self.senders:
            return self._error("src_invalid", "Sender name is not registered")
        if len(form["text"]) > TEXT_MAX:
            return self._error("invalid_arg", f"Argument text is longer than {TEXT_MAX}")
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
        refused = self._email_refusal(form)
        if refused is not None:
            return self._error("invalid_arg", refused)
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

    def _email_refusal(self, form: dict[str, str]) -> str | None:
        named = _NAMED.match(form["email"].strip())
        address = named.group(1).strip() if named else form["email"].strip()
        if not _ADDRESS.match(address):
            return "Argument email is not a valid address"
        if not _ADDRESS.match(form["sender_email"].strip()):
            return "Argument sender_email is not a valid address"
        if self.sender_emails is not None and form["sender_email"] not in self.sender_emails:
            return "Argument sender_email is not a verified address of the account"
        if not form["list_id"].strip().isdigit():
            return "Argument list_id must be a list's number"
        if self.list_ids is not None and int(form["list_id"]) not in self.list_ids:
            return "Argument list_id is not a list of the account"
        return None
