"""SMS providers behind one small interface: SMS.ru and UniSender (``reference/integrations.md``
§3.1–3.2), over the process's shared ``httpx.AsyncClient``.

Exceptions::

    SmsSendError            the provider did not take the message
      .retryable            True: try again later (timeout, 5xx, "temporarily unavailable",
                            rate limits); False: it never will (bad number, bad credentials)

Neither provider takes an idempotency key, so ``SmsMessage.key`` cannot stop a duplicate at the
provider: the outbox (``kopilka.notify.outbox``) records every attempt before it is made, so a
message is sent again only when a worker died with the provider's answer unknown.

Error messages never carry the credentials or the request URL.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from kopilka.config import Settings

log = logging.getLogger("kopilka.notify.sms")


@dataclass(frozen=True)
class SmsMessage:
    phone: str  # E.164, "+79123456789"
    text: str
    key: str  # per-message idempotency key, stable across retries


class SmsSendError(Exception):
    """The provider did not take the message (see the module docstring)."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class SmsChannel(Protocol):
    name: str

    async def send(self, message: SmsMessage) -> str | None: ...  # provider message id


def provider_digits(phone: str) -> str:
    """E.164 without the plus, the form SMS.ru and UniSender document (``79123456789``)."""
    if not phone.startswith("+") or not phone[1:].isdigit():
        raise SmsSendError(f"not an E.164 phone number: {phone!r}", retryable=False)
    return phone[1:]


async def _post(
    http: httpx.AsyncClient, name: str, url: str, data: dict[str, str], timeout: float
) -> Any:
    """POST a form and return the JSON body; transport trouble and 5xx are retryable."""
    try:
        answer = await http.post(url, data=data, timeout=timeout)
    except httpx.TimeoutException:
        raise SmsSendError(f"{name}: no answer in {timeout:g} s", retryable=True) from None
    except httpx.TransportError as exc:
        raise SmsSendError(f"{name}: {type(exc).__name__}", retryable=True) from None
    if answer.status_code >= 500 or answer.status_code == 429:
        raise SmsSendError(f"{name}: HTTP {answer.status_code}", retryable=True)
    if answer.status_code != 200:
        raise SmsSendError(f"{name}: HTTP {answer.status_code}", retryable=False)
    try:
        return answer.json()
    except ValueError:
        raise SmsSendError(f"{name}: the answer is not JSON", retryable=True) from None


class SmsRu:
    """``POST {url}/sms/send`` with ``api_id``, ``to``, ``msg``, ``json=1``."""

    name = "smsru"
    #: 201 no money, 206 daily limit, 220 temporarily unavailable, 230–233 per-number limits
    RETRYABLE = frozenset({201, 206, 220, 230, 231, 232, 233})

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_id: str,
        url: str = "https://sms.ru",
        sender: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.http = http
        self._api_id = api_id
        self.url = url.rstrip("/")
        self.sender = sender
        self.timeout = timeout

    def _raise(self, entry: dict[str, Any]) -> None:
        code = int(entry.get("status_code") or 0)
        text = str(entry.get("status_text") or "")[:200]
        raise SmsSendError(f"smsru: code {code} {text}".strip(), retryable=code in self.RETRYABLE)

    async def send(self, message: SmsMessage) -> str | None:
        to = provider_digits(message.phone)
        data = {"api_id": self._api_id, "to": to, "msg": message.text, "json": "1"}
        if self.sender:
            data["from"] = self.sender
        body = await _post(self.http, self.name, f"{self.url}/sms/send", data, self.timeout)
        if not isinstance(body, dict):
            raise SmsSendError("smsru: unexpected answer", retryable=True)
        if body.get("status") != "OK":
            self._raise(body)
        entry = (body.get("sms") or {}).get(to)
        if not isinstance(entry, dict):
            raise SmsSendError("smsru: the answer does not name the number", retryable=False)
        if entry.get("status") != "OK":
            self._raise(entry)
        return str(entry["sms_id"]) if entry.get("sms_id") else None


class UniSenderSms:
    """``POST {url}/{lang}/api/sendSms?format=json`` with ``api_key``, ``phone``, ``sender``,
    ``text``; errors are HTTP 200 with ``{"error", "code"}``."""

    name = "unisender"
    RETRYABLE = frozenset(
        {
            "retry_later",
            "unspecified",
            "not_enough_money",
            "api_call_limit_exceeded_for_api_key",
            "api_call_limit_exceeded_for_ip",
        }
    )

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_key: str,
        sender: str,
        url: str = "https://api.unisender.com",
        lang: str = "ru",
        timeout: float = 10.0,
    ) -> None:
        self.http = http
        self._api_key = api_key
        self.sender = sender
        self.url = url.rstrip("/")
        self.lang = lang
        self.timeout = timeout

    async def call(self, method: str, data: dict[str, str]) -> Any:
        """One UniSender API call; returns ``result`` or raises :class:`SmsSendError`."""
        url = f"{self.url}/{self.lang}/api/{method}?format=json"
        body = await _post(
            self.http, self.name, url, {"api_key": self._api_key, **data}, self.timeout
        )
        if not isinstance(body, dict):
            raise SmsSendError("unisender: unexpected answer", retryable=True)
        if "error" in body:
            code = str(body.get("code") or "unspecified")
            text = str(body.get("error") or "")[:200]
            raise SmsSendError(
                f"unisender: {code} {text}".strip(), retryable=code in self.RETRYABLE
            )
        return body.get("result")

    async def send(self, message: SmsMessage) -> str | None:
        phone = provider_digits(message.phone)
        result = await self.call(
            "sendSms", {"phone": phone, "sender": self.sender, "text": message.text}
        )
        sms_id = result.get("sms_id") if isinstance(result, dict) else None
        return str(sms_id) if sms_id else None


def sms_channel(settings: Settings, http: httpx.AsyncClient) -> SmsChannel | None:
    """The configured SMS provider (SMS.ru or UniSender), or None when none is configured."""
    choice = settings.sms_provider
    smsru_ready = settings.smsru_api_id is not None
    unisender_ready = settings.unisender_api_key is not None and bool(settings.unisender_sms_sender)
    if choice == "none":
        return None
    if choice == "smsru" or (choice == "auto" and smsru_ready):
        if settings.smsru_api_id is None:
            log.warning("SMS provider smsru chosen but KOPILKA_SMSRU_API_ID is not set")
            return None
        return SmsRu(
            http,
            api_id=settings.smsru_api_id.get_secret_value(),
            url=settings.smsru_url,
            sender=settings.smsru_sender,
            timeout=settings.notify_timeout,
        )
    if choice == "unisender" or (choice == "auto" and unisender_ready):
        if settings.unisender_api_key is None or not settings.unisender_sms_sender:
            log.warning("SMS provider unisender chosen but its api key or SMS sender is not set")
            return None
        return UniSenderSms(
            http,
            api_key=settings.unisender_api_key.get_secret_value(),
            sender=settings.unisender_sms_sender,
            url=settings.unisender_url,
            lang=settings.unisender_lang,
            timeout=settings.notify_timeout,
        )
    return None
