"""Who is signed in to the admin, on which portal, in which role (issue 18).

A session (``web_sessions``, kind ``admin``) names its user and the portal being looked at; the
role is read afresh from the user's membership at every request, so a role taken away or a user
disabled takes effect at once. A session without a user is the bootstrap owner of the shared
password (``admin_password_hash``): it only works while no owner exists, and may read and
create people — it has no name to grant or approve under.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import Request
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.admin.users import Membership, owner_exists, user_by_id
from kopilka.cabinet.sessions import digest
from kopilka.cabinet.web import services_of
from kopilka.db.tables import portals, web_sessions

COOKIE = "kop_admin"

#: What each role may do; an owner may do everything.
#: ``reports`` (/admin/reports), ``operations`` (jobs, messages, segments: /admin/operations,
#: /admin/segments) are the other helpers' pages: their access check asks :meth:`may`.
ALLOWED: dict[str, frozenset[str]] = {
    "viewer": frozenset({"read", "reports"}),
    "manager": frozenset({"read", "grant", "reverse", "card"}),
    "owner": frozenset(
        {"read", "grant", "reverse", "card", "approve", "people", "audit", "reports", "operations"}
    ),
}


@dataclass(frozen=True, slots=True)
class AdminSession:
    id: int
    token: str
    user_id: int | None  # None: the bootstrap owner of the shared password
    login: str
    name: str
    portal_id: int
    member_id: str
    role: str
    memberships: tuple[Membership, ...]

    @property
    def actor(self) -> str:
        """How the ledger and the audit log name this person."""
        return f"admin:{self.login}" if self.user_id is not None else "admin:bootstrap"

    @property
    def shown_name(self) -> str:
        return self.name or self.login

    def may(self, what: str) -> bool:
        if self.user_id is None:  # the bootstrap: reads, and makes the first owner
            return what in ("read", "people", "reports", "operations")
        return what in ALLOWED.get(self.role, frozenset())

    def membership(self) -> Membership | None:
        return next((m for m in self.memberships if m.portal_id == self.portal_id), None)


async def open_admin_session(
    conn: AsyncConnection, user_id: int | None, portal_id: int, now: datetime, ttl: int
) -> str:
    token = secrets.token_urlsafe(32)
    await conn.execute(
        insert(web_sessions).values(
            token_hash=digest(token),
            kind="admin",
            portal_id=portal_id,
            admin_user_id=user_id,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
    )
    return token


async def find(conn: AsyncConnection, token: str | None, now: datetime) -> AdminSession | None:
    if not token:
        return None
    w = web_sessions.c
    row = (
        await conn.execute(
            select(w.id, w.portal_id, w.admin_user_id, portals.c.member_id)
            .join(portals, portals.c.id == w.portal_id)
            .where(
                w.token_hash == digest(token),
                w.kind == "admin",
                w.ended_at.is_(None),
                w.expires_at > now,
            )
        )
    ).first()
    if row is None:
        return None
    if row.admin_user_id is None:
        if await owner_exists(conn):
            return None  # the bootstrap ends with the first owner
        return AdminSession(
            int(row.id),
            token,
            None,
            "bootstrap",
            "",
            int(row.portal_id),
            row.member_id,
            "owner",
            (),
        )
    user = await user_by_id(conn, int(row.admin_user_id))
    role = user.role_in(int(row.portal_id))
    if user.disabled or role is None:
        return None
    return AdminSession(
        int(row.id),
        token,
        user.id,
        user.login,
        user.name,
        int(row.portal_id),
        row.member_id,
        role,
        tuple(user.memberships),
    )


async def current(request: Request) -> AdminSession | None:
    """The signed-in person on the portal they look at, or None: the one access check of every
    admin page (with :meth:`AdminSession.may` for what the page does)."""
    services = services_of(request)
    async with services.engine.connect() as conn:
        return await find(conn, request.cookies.get(COOKIE), services.now())


async def switch_portal(conn: AsyncConnection, session: AdminSession, portal_id: int) -> bool:
    """Look at another of the user's portals; False when the user is not allowed it."""
    if not any(m.portal_id == portal_id for m in session.memberships):
        return False
    await conn.execute(
        update(web_sessions).where(web_sessions.c.id == session.id).values(portal_id=portal_id)
    )
    return True
