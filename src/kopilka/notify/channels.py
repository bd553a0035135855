"""Every way Kopilka talks, behind one interface (docs/notifications.md):

=============  =====================================  ==========================================
channel        provider                               a retry after an unknown outcome
=============  =====================================  ==========================================
sms            SMS.ru or UniSender (``sms.py``)        may duplicate (no idempotency key)
email          SMTP (aiosmtplib) or UniSender          may duplicate (a stable Message-ID lets
                                                       mail clients fold it)
b24_chat       ``im.notify.system.add``                idempotent: ``TAG`` = the message key, so
                                                       the portal replaces instead of adding
b24_timeline   ``crm.timeline.comment.add``            may duplicate
b24_todo       ``crm.activity.todo.add``               may duplicate
=============  =====================================  ==========================================

A channel raises :class:`DeliveryError` (``retryable`` or not). Which channels exist comes from
the settings: :func:`configured` builds them, and the outbox skips a message whose channel is
not configured with a log line.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Protocol

import aiosmtplib
import httpx

from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.errors import (
    B24Error,
    B24OperationLimit,
    B24RateLimited,
    B24ServerError,
    B24TransportError,
)
from kopilka.config import Settings
from kopilka.notify.sms import SmsChannel, SmsMessage, SmsSendError, UniSenderSms, sms_channel

log = logging.getLogger("kopilka.notify")


@dataclass(frozen=True)
class Outgoing:
    key: str
    channel: str
    recipient: str
    body: str
    subject: str = ""
    params: dict[str, Any] = field(default_factory=dict)


class DeliveryError(Exception):
    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class Channel(Protocol):
    idempotent: bool

    async def deliver(self, message: Outgoing) -> str | None: ...


class SmsDelivery:
    idempotent = False

    def __init__(self, sms: SmsChannel) -> None:
        self.sms = sms

    async def deliver(self, message: Outgoing) -> str | None:
        try:
            return await self.sms.send(SmsMessage(message.recipient, message.body, message.key))
        except SmsSendError as exc:
            raise DeliveryError(str(exc), retryable=exc.retryable) from None


class SmtpEmail:
    idempotent = False

    def __init__(self, settings: Settings) -> None:
        assert settings.smtp_host is not None
        self.s = settings

    async def deliver(self, message: Outgoing) -> str | None:
        s = self.s
        mail = EmailMessage()
        mail["From"] = s.smtp_from
        mail["To"] = message.recipient
        mail["Subject"] = message.subject
        domain = s.smtp_from.rpartition("@")[2].strip("> ") or "kopilka"
        # the same message keeps its Message-ID across retries
        mail["Message-ID"] = make_msgid(idstring=message.key.replace(":", "."), domain=domain)
        mail.set_content(message.body)
        try:
            await aiosmtplib.send(
                mail,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_user,
                password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                use_tls=s.smtp_tls == "tls",
                start_tls=True if s.smtp_tls == "starttls" else False,
                timeout=s.notify_timeout,
                tls_context=ssl.create_default_context(),
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"smtp: recipient refused ({exc})", retryable=False) from None
        except aiosmtplib.SMTPResponseException as exc:
            retryable = exc.code >= 400 and exc.code < 500  # 4xx: try later; 5xx: final
            raise DeliveryError(f"smtp: {exc.code} {exc.message}", retryable=retryable) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"smtp: {type(exc).__name__}: {exc}", retryable=True) from None
        return str(mail["Message-ID"])


class UniSenderEmail:
    idempotent = False

    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        assert settings.unisender_api_key is not None
        self.s = settings
        self.api = UniSenderSms(
            http,
            api_key=settings.unisender_api_key.get_secret_value(),
            sender=settings.unisender_sms_sender or "-",
            url=settings.unisender_url,
            lang=settings.unisender_lang,
            timeout=settings.notify_timeout,
        )

    async def deliver(self, message: Outgoing) -> str | None:
        s = self.s
        try:
            result = await self.api.call(
                "sendEmail",
                {
                    "email": message.recipient,
                    "sender_name": s.unisender_sender_name,
                    "sender_email": s.unisender_sender_email or "",
                    "subject": message.subject,
                    "body": message.body,
                    "list_id": str(s.unisender_list_id or ""),
                },
            )
        except SmsSendError as exc:
            raise DeliveryError(str(exc), retryable=exc.retryable) from None
        email_id = result.get("email_id") if isinstance(result, dict) else None
        return str(email_id) if email_id else None


class Bitrix24Delivery:
    """Chat notices, timeline comments and to-dos through the portal's paced client."""

    def __init__(self, client: Bitrix24Client, kind: str) -> None:
        self.client = client
        self.kind = kind
        self.idempotent = kind == "b24_chat"

    def _call(self, message: Outgoing) -> tuple[str, dict[str, Any]]:
        p = message.params
        if self.kind == "b24_chat":
            return "im.notify.system.add", {
                "USER_ID": message.recipient,
                "MESSAGE": message.body,
                "TAG": f"kopilka|{message.params.get('tag') or message.key}",
            }
        if self.kind == "b24_timeline":
            return "crm.timeline.comment.add", {
                "fields": {
                    "ENTITY_TYPE": p.get("entity_type", "contact"),
                    "ENTITY_ID": p["entity_id"],
                    "COMMENT": message.body,
                }
            }
        return "crm.activity.todo.add", {
            "ownerTypeId": p.get("owner_type_id", 3),
            "ownerId": p["owner_id"],
            "deadline": p["deadline"],
            "title": message.subject,
            "description": message.body,
            "responsibleId": message.recipient,
        }

    async def deliver(self, message: Outgoing) -> str | None:
        method, params = self._call(message)
        try:
            result = await self.client.call(method, params, write=True)
        except (B24TransportError, B24ServerError, B24RateLimited, B24OperationLimit) as exc:
            raise DeliveryError(str(exc), retryable=True) from None
        except B24Error as exc:
            raise DeliveryError(str(exc), retryable=False) from None
        if isinstance(result, dict):
            result = result.get("id", result.get("ID"))
        return str(result) if result is not None else None


def email_channel(settings: Settings, http: httpx.AsyncClient) -> Channel | None:
    choice = settings.email_provider
    if choice == "none":
        return None
    if choice == "smtp" or (choice == "auto" and settings.smtp_host):
        return SmtpEmail(settings) if settings.smtp_host else None
    unisender_ready = (
        settings.unisender_api_key is not None
        and bool(settings.unisender_sender_email)
        and settings.unisender_list_id is not None
    )
    if choice in ("unisender", "auto") and unisender_ready:
        return UniSenderEmail(settings, http)
    return None


def configured(
    settings: Settings, http: httpx.AsyncClient, client: Bitrix24Client | None
) -> dict[str, Channel]:
    """The channels this installation has, by name; the others are skipped."""
    out: dict[str, Channel] = {}
    sms = sms_channel(settings, http)
    if sms is not None:
        out["sms"] = SmsDelivery(sms)
    email = email_channel(settings, http)
    if email is not None:
        out["email"] = email
    if client is not None:
        if settings.notify_b24_chat:
            out["b24_chat"] = Bitrix24Delivery(client, "b24_chat")
        if settings.notify_b24_timeline:
            out["b24_timeline"] = Bitrix24Delivery(client, "b24_timeline")
        out["b24_todo"] = Bitrix24Delivery(client, "b24_todo")
    return out
