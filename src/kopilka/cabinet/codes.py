"""Requests for a login code: the caps, and the SMS that carries the code.

Every request is a ``login_requests`` row, whether the phone is a customer's or not, so that the
answer (status, page, work done in the request) does not tell who is a customer. The caps are
checked under one transaction-level advisory lock, so concurrent requests cannot all slip under a
cap; within ``login_lockout_window`` seconds:

* one phone: one request per ``login_resend_after`` seconds, at most ``login_max_codes_per_phone``;
* one client address: at most ``login_max_codes_per_addr`` (SMS pumping sprays many phones);
* all clients together: at most ``login_max_codes_total`` (a budget for the SMS account).

A refused request records nothing and queues nothing. For a customer's phone an accepted request
also makes a code row and queues the SMS in the notification outbox (``urgent``: quiet hours do
not hold it); the notify worker sends it. The code does not exist until the worker makes it
(:mod:`kopilka.cabinet.sms_code`): no column holds it in clear. Only a digest of the
phone is kept in ``login_requests`` (people who are no customers ask too).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.api.portal import customer_by_phone
from kopilka.cabinet import sessions
from kopilka.config import Settings
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import login_codes, login_requests
from kopilka.domain.errors import NotFound
from kopilka.notify.deferred import defer_notify
from kopilka.notify.outbox import queue
from kopilka.notify.service import http_of
from kopilka.notify.sms import sms_channel
from kopilka.process.services import Services

log = logging.getLogger("kopilka.cabinet")

#: The SMS; ``{code}`` is filled in by the worker when it sends it.
SMS_TEXT = {
    "ru": "Код для входа в личный кабинет: {code}. Никому его не сообщайте.",
    "en": "Your login code: {code}. Do not share it.",
}


@dataclass(frozen=True, slots=True)
class Answer:
    """``error`` None: accepted. ``until``: when a lockout ends; ``wait``: seconds until the
    phone may ask for another code."""

    error: str | None
    wait: int = 0
    until: datetime | None = None


def phone_digest(phone: str) -> str:
    return hashlib.sha256(f"kopilka-login:{phone}".encode()).hexdigest()


async def _count(conn: AsyncConnection, since: datetime, now: datetime, *where: object) -> int:
    found = await conn.scalar(
        select(func.count()).where(
            login_requests.c.at > since,
            login_requests.c.at <= now,
            *where,  # type: ignore[arg-type]
        )
    )
    return int(found or 0)


async def _capped(
    conn: AsyncConnection, settings: Settings, portal_id: int, phone: str, addr: str, now: datetime
) -> Answer | None:
    r = login_requests.c
    since = now - timedelta(seconds=settings.login_lockout_window)
    last = await conn.scalar(
        select(func.max(r.at)).where(
            r.portal_id == portal_id, r.phone_hash == phone_digest(phone), r.at <= now
        )
    )
    if last is not None and last > now - timedelta(seconds=settings.login_resend_after):
        left = settings.login_resend_after - (now - last).total_seconds()
        return Answer("wait", wait=max(int(left + 0.999), 1))
    if (
        await _count(
            conn, since, now, r.portal_id == portal_id, r.phone_hash == phone_digest(phone)
        )
        >= settings.login_max_codes_per_phone
        or await _count(conn, since, now, r.portal_id == portal_id, r.addr == addr)
        >= settings.login_max_codes_per_addr
    ):
        return Answer("too_many_codes")
    if await _count(conn, since, now) >= settings.login_max_codes_total:
        log.warning("login codes: the total cap (%d) is reached", settings.login_max_codes_total)
        return Answer("busy")
    return None


async def request_code(
    conn: AsyncConnection,
    settings: Settings,
    portal_id: int,
    phone: str,
    addr: str,
    now: datetime,
    lang: str,
) -> Answer:
    """One request for a code (in the caller's transaction)."""
    lock = await sessions.lockout(
        conn, settings, portal_id, sessions.login_subjects(settings, phone, addr), now
    )
    if lock.locked:
        return Answer("locked", until=lock.until)
    await sessions.hold_subjects(conn, 0, ["code-requests"])  # one at a time, all portals
    refused = await _capped(conn, settings, portal_id, phone, addr, now)
    if refused is not None:
        return refused
    keep = timedelta(seconds=2 * settings.login_lockout_window)
    await conn.execute(delete(login_requests).where(login_requests.c.at < now - keep))
    await conn.execute(
        insert(login_requests).values(
            portal_id=portal_id, phone_hash=phone_digest(phone), addr=addr, at=now
        )
    )
    try:
        await customer_by_phone(conn, portal_id, phone)
    except NotFound:
        return Answer(None, wait=settings.login_resend_after)  # the same answer, no SMS
    code_id = await sessions.pending_code(conn, settings, portal_id, phone, now)
    await queue(
        conn,
        portal_id,
        key=f"login:{code_id}",
        channel="sms",
        recipient=phone,
        body=SMS_TEXT.get(lang, SMS_TEXT["ru"]),
        params={"login_code": code_id, "ttl": settings.login_code_ttl, "urgent": True},
        not_before=now,
    )
    await defer_notify(conn, portal_id)
    return Answer(None, wait=settings.login_resend_after)


def sms_ready(services: Services) -> bool:
    """Whether login codes can go out: an SMS channel, or (development) the log."""
    return sms_channel(services.settings, http_of(services)) is not None or to_log(services)


def to_log(services: Services) -> bool:
    settings = services.settings
    return settings.login_codes_to_log and settings.env == "development"


async def code_to_log(services: Services, portal_id: int, phone: str, now: datetime) -> None:
    """Development without an SMS channel: the newest pending code, made now, to the log."""
    if not to_log(services) or sms_channel(services.settings, http_of(services)) is not None:
        return

    async def unit(conn: AsyncConnection) -> str | None:
        code_id = await conn.scalar(
            select(login_codes.c.id)
            .where(login_codes.c.portal_id == portal_id, login_codes.c.phone == phone)
            .order_by(login_codes.c.id.desc())
            .limit(1)
        )
        if code_id is None:
            return None
        made = await sessions.fresh_code(conn, int(code_id), services.settings.login_code_ttl, now)
        return made[1] if made else None

    code = await run_in_transaction(services.engine, unit)
    if code is not None:
        log.warning("login code for %s: %s (development mode, no SMS channel)", phone, code)
