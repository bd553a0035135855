"""Sessions of the framed pages: a random token handed to the page, only its hash stored.

A framed page cannot count on cookies (browsers block third-party cookies in iframes), so the
token travels in the page itself: a hidden ``sid`` field in every form, or the
``X-Kopilka-Session`` header. It is compared by its hash, so a database read reveals none.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.b24app.schemas import AppUser
from kopilka.db.tables import b24_app_sessions, portals

_SID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def open_session(
    conn: AsyncConnection,
    user: AppUser,
    now: datetime,
    ttl: timedelta,
    *,
    placement: str,
    entity_id: int | None,
) -> str:
    """A new session for ``user`` on the page ``placement`` (of record ``entity_id``); the
    portal's expired sessions are swept on the way."""
    await conn.execute(
        delete(b24_app_sessions).where(
            b24_app_sessions.c.portal_id == user.portal_id, b24_app_sessions.c.expires_at < now
        )
    )
    token = secrets.token_urlsafe(32)
    await conn.execute(
        insert(b24_app_sessions).values(
            token_hash=_hash(token),
            portal_id=user.portal_id,
            user_id=user.user_id,
            user_name=user.name[:200],
            is_admin=user.is_admin,
            lang=user.lang,
            placement=placement,
            entity_id=entity_id,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    return token


async def session_of(
    conn: AsyncConnection, token: str, now: datetime
) -> tuple[AppUser, str, int | None] | None:
    """The user of a live session, with the page (placement, record) it was opened for; None
    for an unknown, malformed or expired token."""
    if not 20 <= len(token) <= 100 or not set(token) <= _SID_CHARS:
        return None
    s = b24_app_sessions.c
    row = (
        await conn.execute(
            select(
                s.portal_id,
                s.user_id,
                s.user_name,
                s.is_admin,
                s.lang,
                s.placement,
                s.entity_id,
                portals.c.member_id,
            )
            .join(portals, portals.c.id == s.portal_id)
            .where(s.token_hash == _hash(token), s.expires_at > now)
        )
    ).first()
    if row is None:
        return None
    user = AppUser(
        portal_id=row.portal_id,
        member_id=row.member_id,
        user_id=row.user_id,
        name=row.user_name,
        is_admin=row.is_admin,
        lang=row.lang,
    )
    return user, row.placement, row.entity_id
