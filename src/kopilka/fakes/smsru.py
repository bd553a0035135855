"""A local SMS.ru: ``POST /sms/send`` exactly as in ``reference/integrations.md`` §3.2.

``api_id``, ``to`` (comma-separated ``79…`` numbers, or ``to[79…]=text`` pairs), ``msg`` and
``json=1``; the answer is the JSON envelope with a top-level ``status``/``status_code`` for the
request and one entry per number under ``sms``. A wrong ``api_id`` gets code 200, a missing text
203, a bad number 202 (per number), more than 100 numbers 213. ``/my/balance`` answers too.

    with SmsRuFake(api_id="test") as fake:
        settings = Settings(smsru_api_id="test", smsru_url=fake.url)
        ...
        assert fake.messages[0].phone == "79123456789"
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kopilka.fakes._server import FakeServer, Fault

_NUMBER = re.compile(r"^7\d{10}$|^[1-9]\d{9,14}$")


@dataclass(frozen=True)
class SmsRuMessage:
    phone: str  # as sent, e.g. "79123456789"
    text: str
    sms_id: str
    sender: str | None = None


class SmsRuFake(FakeServer):
    #: SMS.ru's "service temporarily unavailable"
    default_error = 220

    def __init__(self, api_id: str = "test", balance: float = 1000.0) -> None:
        super().__init__()
        self.api_id = api_id
        self.balance = balance
        self.messages: list[SmsRuMessage] = []

    def _error(self, code: int, text: str) -> tuple[int, Any]:
        return 200, {"status": "ERROR", "status_code": code, "status_text": text}

    def handle(self, path: str, form: dict[str, str], fault: Fault | None) -> tuple[int, Any]:
        if fault is not None and fault.error is not None:
            if isinstance(fault.error, int) and fault.error >= 500:  # an HTTP-level failure
                return fault.error, {"status": "ERROR", "status_text": "Internal Server Error"}
            return self._error(int(fault.error), "Сервис временно недоступен")
        if fault is not None and not fault.accept:  # stalled, then gave up: nothing taken
            self.pause(fault.seconds)
            return self._error(220, "Сервис временно недоступен")
        if form.get("api_id") != self.api_id:
            return self._error(200, "Неправильный api_id")
        if path == "/my/balance":
            return 200, {"status": "OK", "status_code": 100, "balance": self.balance}
        if path != "/sms/send":
            return self._error(211, "Метод не найден")
        texts = self._recipients(form)
        if not texts:
            return self._error(202, "Неправильно указан получатель")
        if len(texts) > 100:
            return self._error(213, "Более 100 номеров в запросе")
        sms: dict[str, Any] = {}
        for phone, text in texts.items():
            if not _NUMBER.match(phone):
                sms[phone] = {"status": "ERROR", "status_code": 202, "status_text": "bad number"}
                continue
            if not text.strip():
                return self._error(203, "Нет текста сообщения")
            with self.lock:
                sms_id = f"{len(self.messages) + 1:06d}-{self.requests:08d}"
                self.messages.append(SmsRuMessage(phone, text, sms_id, form.get("from")))
            sms[phone] = {"status": "OK", "status_code": 100, "sms_id": sms_id}
        if fault is not None and fault.accept:
            self.pause(fault.seconds)  # accepted; the answer is late
        return 200, {"status": "OK", "status_code": 100, "sms": sms, "balance": self.balance}

    @staticmethod
    def _recipients(form: dict[str, str]) -> dict[str, str]:
        pairs = {k[3:-1]: v for k, v in form.items() if k.startswith("to[") and k.endswith("]")}
        if pairs:
            return pairs
        msg = form.get("msg", "")
        return {p.strip(): msg for p in form.get("to", "").split(",") if p.strip()}
