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

``importContacts`` (a segment's export, issue 18) takes ``field_names[k]`` and ``data[i][k]``
(PHP-style form arrays), at most 500 rows a call, with at least an ``email`` or a ``phone``
column; ``email_list_ids`` / ``phone_list_ids`` name the lists (comma-separated) a contact is
put in, ``delete`` = 1 takes the contact out of them. The answer is ``{"result": {"total",
"inserted", "updated", "deleted", "new_emails", "invalid", "log": [{"index", "code",
"message"}]}}``; a row with a malformed address or number is counted in ``invalid`` and
logged, the others are taken.

    with UniSenderFake(api_key="test", senders=("Clinic",)) as fake:
        ...
        fake.messages  # SMS: .phone as sent ("79123456789" or "+79123456789"), .text
        fake.emails    # e-mails: .email, .subject, .body
        fake.members(7)  # the e-mails and phones in list 7
        fake.imports   # every importContacts call's rows, as dicts of the columns
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
_FIELD = re.compile(r"^field_names\[(\d+)\]$")
_CELL = re.compile(r"^data\[(\d+)\]\[(\d+)\]$")
TEXT_MAX = 1000
IMPORT_MAX = 500


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
        self.imports: list[list[dict[str, str]]] = []
        self._lists: dict[int, set[str]] = {}  # list id -> e-mails and phones in it
        self._known: set[str] = set()  # every e-mail and phone ever imported

    def members(self, list_id: int) -> set[str]:
        with self.lock:
            return set(self._lists.get(list_id, set()))

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
        elif method == "importContacts":
            answer = self._import_contacts(form)
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

    # --- importContacts ----------------------------------------------------------------------
    @staticmethod
    def _table(form: dict[str, str]) -> tuple[list[str], list[dict[str, str]]] | str:
        """The columns and rows of an ``importContacts`` call, or why it is refused."""
        names: dict[int, str] = {}
        cells: dict[int, dict[int, str]] = {}
        for key, value in form.items():
            if found := _FIELD.match(key):
                names[int(found.group(1))] = value.strip()
            elif found := _CELL.match(key):
                cells.setdefault(int(found.group(1)), {})[int(found.group(2))] = value
        if not names or sorted(names) != list(range(len(names))):
            return "Argument field_names is required (field_names[0], field_names[1], ...)"
        columns = [names[k] for k in range(len(names))]
        if "email" not in columns and "phone" not in columns:
            return "field_names must include email or phone"
        if not cells:
            return "Argument data is required"
        if len(cells) > IMPORT_MAX:
            return f"At most {IMPORT_MAX} contacts a call"
        rows: list[dict[str, str]] = []
        for index in sorted(cells):
            row = cells[index]
            if set(row) - set(range(len(columns))):
                return f"data[{index}] has more values than field_names"
            rows.append({columns[k]: row.get(k, "").strip() for k in range(len(columns))})
        return columns, rows

    def _lists_of(self, text: str) -> list[int] | str:
        ids = [part.strip() for part in text.split(",") if part.strip()]
        if not all(i.isdigit() for i in ids):
            return "list ids must be numbers"
        known = self.list_ids
        if known is not None and any(int(i) not in known for i in ids):
            return "a list id is not a list of the account"
        return [int(i) for i in ids]

    def _import_contacts(self, form: dict[str, str]) -> tuple[int, Any]:
        table = self._table(form)
        if isinstance(table, str):
            return self._error("invalid_arg", table)
        _columns, rows = table
        answer: dict[str, Any] = {"total": len(rows), "inserted": 0, "updated": 0, "deleted": 0,
                                  "new_emails": 0, "invalid": 0, "log": []}  # fmt: skip
        with self.lock:
            self.imports.append(rows)
            for index, row in enumerate(rows):
                refused = self._import_row(row, answer)
                if refused is not None:
                    answer["invalid"] += 1
                    answer["log"].append({"index": index, "code": "invalid_arg",
                                          "message": refused})  # fmt: skip
        return 200, {"result": answer}

    def _import_row(self, row: dict[str, str], answer: dict[str, Any]) -> str | None:
        """Apply one row under the lock; why it was refused, or None."""
        keys: list[tuple[str, str]] = []  # (address, its lists' column)
        if row.get("email"):
            if not _ADDRESS.match(row["email"]):
                return f"invalid email {row['email']!r}"
            keys.append((row["email"].lower(), "email_list_ids"))
        if row.get("phone"):
            if not _PHONE.match(row["phone"]):
                return f"invalid phone {row['phone']!r}"
            keys.append((row["phone"].lstrip("+"), "phone_list_ids"))
        if not keys:
            return "neither email nor phone"
        plans: list[tuple[str, list[int]]] = []
        for address, column in keys:
            lists = self._lists_of(row.get(column, ""))
            if isinstance(lists, str):
                return lists
            plans.append((address, lists))
        if row.get("delete") == "1":
            for address, lists in plans:
                for list_id in lists:
                    self._lists.get(list_id, set()).discard(address)
            answer["deleted"] += 1
            return None
        new = any(address not in self._known for address, _ in plans)
        for address, lists in plans:
            self._known.add(address)
            for list_id in lists:
                self._lists.setdefault(list_id, set()).add(address)
        answer["inserted" if new else "updated"] += 1
        if new and row.get("email"):
            answer["new_emails"] += 1
        return None
