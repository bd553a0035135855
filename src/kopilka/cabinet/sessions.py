"""Login codes, lockouts and browser sessions (the cabinet's and the admin's).

* A code is 6 digits, kept as a salted SHA-256, valid ``login_code_ttl`` seconds, used once
  (``UPDATE … WHERE used_at IS NULL`` — two tabs cannot both log in with it). The login page
  makes the row with an unusable hash (``pending_code``); the notify worker makes the code itself
  when it sends the SMS (``fresh_code``), so the code is in clear only in that SMS.
* Every wrong guess is a ``login_failures`` row for the phone and for the client address; a
  subject with too many rows inside ``login_lockout_window`` is locked out until they age out,
  and a lockout also voids the phone's outstanding codes. Counting and checking run under
  per-subject advisory locks (``hold_subjects``), so concurrent guesses are counted one after
  another: no guess is checked once the limit is reached.
* A session is a random token in a cookie; only its hash is stored, it ends at ``expires_at``
  or at logout.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.config import Settings
from kopilka.db.tables import login_codes, login_failures, web_sessions

CODE_DIGITS = 6


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _code_hash(salt: str, phone: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{phone}:{code}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Lockout:
    locked: bool
    until: datetime | None = None


async def lockout(
    conn: AsyncConnection,
    settings: Settings,
    portal_id: int,
    subjects: dict[str, int],
    now: datetime,
) -> Lockout:
    """Whether any of ``subjects`` (subject → its limit) has reached its limit of failures."""
    since = now - timedelta(seconds=settings.login_lockout_window)
    for subject, limit in subjects.items():
        rows = (
            await conn.execute(
                select(func.count(), func.min(login_failures.c.at)).where(
                    login_failures.c.portal_id == portal_id,
                    login_failures.c.subject == subject,
                    login_failures.c.at > since,
                )
            )
        ).one()
        if int(rows[0]) >= limit:
            return Lockout(True, rows[1] + timedelta(seconds=settings.login_lockout_window))
    return Lockout(False)


async def hold_subjects(conn: AsyncConnection, portal_id: int, subjects: Iterable[str]) -> None:
    """Wait for, and hold until the transaction ends, a lock per subject (sorted: no deadlock):
    the transactions that count a subject's attempts and then check one run one at a time."""
    for subject in sorted(set(subjects)):
        key = func.hashtextextended(f"kopilka:login:{portal_id}:{subject}", 0)
        await conn.execute(select(func.pg_advisory_xact_lock(key)))


def login_subjects(settings: Settings, phone: str, addr: str) -> dict[str, int]:
    return {
        f"phone:{phone}": settings.login_max_failures_per_phone,
        f"addr:{addr}": settings.login_max_failures_per_addr,
    }


async def count_attempt(conn: AsyncConnection, portal_id: int, subject: str, now: datetime) -> int:
    """Count an attempt as a failure before it is checked (the row's id: forget it on success)."""
    found = await conn.scalar(
        insert(login_failures)
        .values(portal_id=portal_id, subject=subject, at=now)
        .returning(login_failures.c.id)
    )
    assert found is not None
    return int(found)


async def forget_attempt(conn: AsyncConnection, failure_id: int) -> None:
    await conn.execute(login_failures.delete().where(login_failures.c.id == failure_id))


async def record_failure(
    conn: AsyncConnection, portal_id: int, subjects: list[str], now: datetime
) -> None:
    await conn.execute(
        insert(login_failures),
        [{"portal_id": portal_id, "subject": s, "at": now} for s in subjects],
    )


async def issue_code(
    conn: AsyncConnection, settings: Settings, portal_id: int, phone: str, now: datetime
) -> tuple[int, str]:
    """A new code for ``phone`` (returned in clear to be sent, never stored)."""
    code_id = await pending_code(conn, settings, portal_id, phone, now)
    code = await fresh_code(conn, code_id, settings.login_code_ttl, now)
    assert code is not None
    return code_id, code[1]


async def pending_code(
    conn: AsyncConnection, settings: Settings, portal_id: int, phone: str, now: datetime
) -> int:
    """A code row for ``phone`` that no code matches until ``fresh_code`` makes one."""
    unusable = secrets.token_hex(32)
    code_id = await conn.scalar(
        insert(login_codes)
        .values(
            portal_id=portal_id,
            phone=phone,
            code_hash=unusable,
            salt=secrets.token_hex(8),
            created_at=now,
            expires_at=now + timedelta(seconds=settings.login_code_ttl),
        )
        .returning(login_codes.c.id)
    )
    assert code_id is not None
    return int(code_id)


async def fresh_code(
    conn: AsyncConnection, code_id: int, ttl: int, now: datetime
) -> tuple[str, str] | None:
    """(phone, a new code in clear) for the code row, valid ``ttl`` seconds from ``now``; only
    its hash is kept. None when the row was used, voided or has expired meanwhile."""
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    salt = secrets.token_hex(8)
    row = await conn.execute(
        select(login_codes.c.phone)
        .where(
            login_codes.c.id == code_id,
            login_codes.c.used_at.is_(None),
            login_codes.c.expires_at > now,
        )
        .with_for_update()
    )
    phone = row.scalar()
    if phone is None:
        return None
    await conn.execute(
        update(login_codes)
        .where(login_codes.c.id == code_id)
        .values(
            code_hash=_code_hash(salt, phone, code),
            salt=salt,
            expires_at=now + timedelta(seconds=ttl),
        )
    )
    return str(phone), code


async def use_code(
    conn: AsyncConnection, portal_id: int, phone: str, code: str, now: datetime
) -> bool:
    """Consume a valid code of ``phone``; False when none matches (wrong, used or expired)."""
    rows = await conn.execute(
        select(login_codes.c.id, login_codes.c.salt, login_codes.c.code_hash).where(
            login_codes.c.portal_id == portal_id,
            login_codes.c.phone == phone,
            login_codes.c.used_at.is_(None),
            login_codes.c.expires_at > now,
        )
    )
    typed = "".join(ch for ch in code if ch.isdigit())
    for r in rows.all():
        if hmac.compare_digest(_code_hash(r.salt, phone, typed), r.code_hash):
            used = await conn.execute(
                update(login_codes)
                .where(login_codes.c.id == r.id, login_codes.c.used_at.is_(None))
                .values(used_at=now)
            )
            return bool(used.rowcount)
    return False


async def void_codes(conn: AsyncConnection, portal_id: int, phone: str, now: datetime) -> None:
    await conn.execute(
        update(login_codes)
        .where(
            login_codes.c.portal_id == portal_id,
            login_codes.c.phone == phone,
            login_codes.c.used_at.is_(None),
        )
        .values(used_at=now)
    )


@dataclass(frozen=True, slots=True)
class Session:
    id: int
    kind: str
    portal_id: int
    customer_id: int | None
    expires_at: datetime


async def open_session(
    conn: AsyncConnection,
    kind: str,
    portal_id: int,
    customer_id: int | None,
    now: datetime,
    ttl: int,
) -> str:
    token = secrets.token_urlsafe(32)
    await conn.execute(
        insert(web_sessions).values(
            token_hash=digest(token),
            kind=kind,
            portal_id=portal_id,
            customer_id=customer_id,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
    )
    return token


async def find_session(
    conn: AsyncConnection, kind: str, token: str | None, now: datetime
) -> Session | None:
    if not token:
        return None
    row = (
        await conn.execute(
            select(web_sessions).where(
                web_sessions.c.token_hash == digest(token),
                web_sessions.c.kind == kind,
                web_sessions.c.ended_at.is_(None),
                web_sessions.c.expires_at > now,
            )
        )
    ).first()
    if row is None:
        return None
    return Session(int(row.id), row.kind, int(row.portal_id), row.customer_id, row.expires_at)


async def end_session(conn: AsyncConnection, token: str | None, now: datetime) -> None:
    if token:
        await conn.execute(
            update(web_sessions)
            .where(web_sessions.c.token_hash == digest(token), web_sessions.c.ended_at.is_(None))
            .values(ended_at=now)
        )
