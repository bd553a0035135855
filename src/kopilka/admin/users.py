"""The admin's people (issue 18): named users with their own password, the portals each may open
in a role (owner, manager, viewer), their own limit on manual grants, and a lockout after wrong
passwords. Every change is recorded in the audit log in the same transaction.

A lockout is counted on the user's row, before the password is hashed and under the row's lock:
concurrent guesses are counted one after another, and no guess past the limit costs a hash.
An owner who comes from Bitrix24 through the app (:mod:`kopilka.admin.handover`) is a user bound
to that portal's Bitrix24 user, without a password of their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as upsert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.audit import record
from kopilka.db.tables import admin_memberships, admin_users, portals, web_sessions
from kopilka.domain.errors import Conflict, InvalidCommand, NotFound

ROLES = ("owner", "manager", "viewer")
PERIODS = ("day", "week", "month", "year")
_LOGIN = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,99}$")


class UnknownUser(NotFound):
    code = "unknown_admin_user"


class LoginTaken(Conflict):
    code = "login_taken"


@dataclass(frozen=True, slots=True)
class Membership:
    portal_id: int
    member_id: str
    role: str
    grant_limit: int | None  # kopecks of points per period; None: no limit of their own
    grant_period: str


@dataclass(frozen=True, slots=True)
class User:
    id: int
    login: str
    name: str
    disabled: bool
    b24_user_id: int | None
    memberships: list[Membership] = field(default_factory=list)

    def role_in(self, portal_id: int) -> str | None:
        return next((m.role for m in self.memberships if m.portal_id == portal_id), None)


def check_login(login: str) -> str:
    clean = login.strip().lower()
    if not _LOGIN.fullmatch(clean):
        raise InvalidCommand(
            "a login is 2–100 characters: latin letters, digits and . _ @ - (no spaces)"
        )
    return clean


def _check_membership(role: str, grant_limit: int | None, period: str) -> None:
    if role not in ROLES:
        raise InvalidCommand(f"the role is one of {', '.join(ROLES)}, not {role!r}")
    if period not in PERIODS:
        raise InvalidCommand(f"the period is one of {', '.join(PERIODS)}, not {period!r}")
    if grant_limit is not None and not 0 <= grant_limit <= 10**14:
        raise InvalidCommand("the limit is a number of points, 0 or more")


async def add_user(
    conn: AsyncConnection,
    *,
    login: str,
    name: str,
    password_hash: str,
    portal_id: int,
    role: str,
    grant_limit: int | None,
    grant_period: str = "month",
    actor: str,
    now: datetime,
) -> int:
    """A new user with one portal; raises ``LoginTaken`` for a login already in use."""
    login = check_login(login)
    _check_membership(role, grant_limit, grant_period)
    taken = await conn.scalar(select(admin_users.c.id).where(admin_users.c.login == login))
    if taken is not None:
        raise LoginTaken(f"the login {login!r} is taken")
    user_id = await conn.scalar(
        insert(admin_users)
        .values(login=login, name=name.strip()[:200], password_hash=password_hash, created_at=now)
        .returning(admin_users.c.id)
    )
    assert user_id is not None
    await _membership(conn, int(user_id), portal_id, role, grant_limit, grant_period)
    details = {"login": login, "role": role, "grant_limit": grant_limit, "period": grant_period}
    await record(conn, actor, "user.created", f"user:{user_id}", details, portal_id=portal_id)
    return int(user_id)


async def _membership(
    conn: AsyncConnection, user_id: int, portal_id: int, role: str, limit: int | None, period: str
) -> None:
    m = admin_memberships.c
    values = {"role": role, "grant_limit": limit, "grant_period": period}
    await conn.execute(
        upsert(admin_memberships)
        .values(user_id=user_id, portal_id=portal_id, **values)
        .on_conflict_do_update(index_elements=[m.user_id, m.portal_id], set_=values)
    )


async def set_membership(
    conn: AsyncConnection,
    user_id: int,
    portal_id: int,
    *,
    role: str,
    grant_limit: int | None,
    grant_period: str = "month",
    actor: str,
) -> None:
    """Allow a user a portal in a role (or change it), with their limit on manual grants."""
    _check_membership(role, grant_limit, grant_period)
    user = await user_by_id(conn, user_id)
    if role != "owner":
        await _keep_an_owner(conn, user, [portal_id])
    await _membership(conn, user_id, portal_id, role, grant_limit, grant_period)
    details = {"role": role, "grant_limit": grant_limit, "period": grant_period}
    await record(conn, actor, "user.role", f"user:{user_id}", details, portal_id=portal_id)


async def _keep_an_owner(conn: AsyncConnection, user: User, portal_ids: list[int]) -> None:
    """Refuse to leave a portal without an enabled owner (nobody could then approve or manage)."""
    for portal_id in portal_ids:
        if user.role_in(portal_id) != "owner":
            continue
        m = admin_memberships.c
        others = await conn.scalar(
            select(func.count())
            .select_from(admin_memberships)
            .join(admin_users, admin_users.c.id == m.user_id)
            .where(
                m.portal_id == portal_id,
                m.role == "owner",
                m.user_id != user.id,
                admin_users.c.disabled_at.is_(None),
            )
        )
        if not others:
            raise InvalidCommand("a portal keeps at least one owner: make another owner first")


async def set_password(
    conn: AsyncConnection, user_id: int, password_hash: str, *, actor: str, now: datetime
) -> None:
    user = await user_by_id(conn, user_id)
    await conn.execute(
        update(admin_users)
        .where(admin_users.c.id == user_id)
        .values(password_hash=password_hash, failed_logins=0, last_failed_at=None)
    )
    await _end_sessions(conn, user_id, now)
    ids: list[int | None] = [m.portal_id for m in user.memberships]
    for portal_id in ids or [None]:
        await record(
            conn,
            actor,
            "user.password",
            f"user:{user_id}",
            {"login": user.login},
            portal_id=portal_id,
        )


async def disable_user(conn: AsyncConnection, user_id: int, *, actor: str, now: datetime) -> None:
    """Disable a user and end their sessions (their history stays, naming them)."""
    user = await user_by_id(conn, user_id)
    await _keep_an_owner(conn, user, [m.portal_id for m in user.memberships])
    await conn.execute(
        update(admin_users)
        .where(admin_users.c.id == user_id, admin_users.c.disabled_at.is_(None))
        .values(disabled_at=now)
    )
    await _end_sessions(conn, user_id, now)
    ids: list[int | None] = [m.portal_id for m in user.memberships]
    for portal_id in ids or [None]:
        await record(
            conn,
            actor,
            "user.disabled",
            f"user:{user_id}",
            {"login": user.login},
            portal_id=portal_id,
        )


async def _end_sessions(conn: AsyncConnection, user_id: int, now: datetime) -> None:
    w = web_sessions.c
    await conn.execute(
        update(web_sessions)
        .where(w.admin_user_id == user_id, w.ended_at.is_(None))
        .values(ended_at=now)
    )


async def _memberships(conn: AsyncConnection, user_ids: list[int]) -> dict[int, list[Membership]]:
    m = admin_memberships.c
    rows = await conn.execute(
        select(admin_memberships, portals.c.member_id)
        .join(portals, portals.c.id == m.portal_id)
        .where(m.user_id.in_(user_ids))
        .order_by(m.user_id, m.portal_id)
    )
    found: dict[int, list[Membership]] = {}
    for r in rows:
        found.setdefault(int(r.user_id), []).append(
            Membership(int(r.portal_id), r.member_id, r.role, r.grant_limit, r.grant_period)
        )
    return found


def _user(r: Any, memberships: list[Membership]) -> User:
    return User(
        int(r.id),
        r.login,
        r.name,
        r.disabled_at is not None,
        r.b24_user_id,
        memberships,
    )


async def user_by_id(conn: AsyncConnection, user_id: int) -> User:
    row = (await conn.execute(select(admin_users).where(admin_users.c.id == user_id))).first()
    if row is None:
        raise UnknownUser(f"no admin user #{user_id}")
    return _user(row, (await _memberships(conn, [user_id])).get(user_id, []))


async def user_by_login(conn: AsyncConnection, login: str) -> User:
    row = (
        await conn.execute(select(admin_users).where(admin_users.c.login == login.strip().lower()))
    ).first()
    if row is None:
        raise UnknownUser(f"no admin user {login!r}")
    return _user(row, (await _memberships(conn, [int(row.id)])).get(int(row.id), []))


async def list_users(conn: AsyncConnection, portal_id: int | None = None) -> list[User]:
    """Every user (the CLI), or those allowed ``portal_id`` (the admin's people page)."""
    query = select(admin_users).order_by(admin_users.c.login)
    if portal_id is not None:
        allowed = select(admin_memberships.c.user_id).where(
            admin_memberships.c.portal_id == portal_id
        )
        query = query.where(admin_users.c.id.in_(allowed))
    rows = (await conn.execute(query)).all()
    found = await _memberships(conn, [int(r.id) for r in rows])
    return [_user(r, found.get(int(r.id), [])) for r in rows]


async def owner_exists(conn: AsyncConnection) -> bool:
    """Whether any enabled owner exists: until one does, the shared password is the bootstrap."""
    found = await conn.scalar(
        select(func.count())
        .select_from(admin_memberships)
        .join(admin_users, admin_users.c.id == admin_memberships.c.user_id)
        .where(admin_memberships.c.role == "owner", admin_users.c.disabled_at.is_(None))
    )
    return bool(found)


@dataclass(frozen=True, slots=True)
class Attempt:
    """A login attempt counted before its password is checked: ``locked`` costs no hashing."""

    user_id: int | None
    password_hash: str | None
    locked: bool = False


async def reserve_attempt(
    conn: AsyncConnection, login: str, *, limit: int, window: int, now: datetime
) -> Attempt:
    """Count an attempt on ``login`` under its row's lock (an unknown login: nothing to count)."""
    u = admin_users.c
    row = (
        await conn.execute(
            select(u.id, u.password_hash, u.failed_logins, u.last_failed_at, u.disabled_at)
            .where(u.login == login.strip().lower())
            .with_for_update()
        )
    ).first()
    if row is None or row.disabled_at is not None or row.password_hash is None:
        return Attempt(None, None)
    failures = int(row.failed_logins)
    if row.last_failed_at is None or row.last_failed_at <= now - timedelta(seconds=window):
        failures = 0  # the earlier failures aged out
    if failures >= limit:
        return Attempt(int(row.id), None, locked=True)
    await conn.execute(
        update(admin_users)
        .where(u.id == row.id)
        .values(failed_logins=failures + 1, last_failed_at=now)
    )
    return Attempt(int(row.id), row.password_hash)


async def login_succeeded(conn: AsyncConnection, user_id: int) -> None:
    await conn.execute(
        update(admin_users)
        .where(admin_users.c.id == user_id)
        .values(failed_logins=0, last_failed_at=None)
    )


async def owner_from_b24(
    conn: AsyncConnection, portal_id: int, b24_user_id: int, name: str, now: datetime
) -> int:
    """The owner user for a portal administrator from Bitrix24: found, or made (and audited).

    A disabled one stays disabled: an owner turned away in the admin is not let back in by the
    portal."""
    u = admin_users.c
    found = (
        await conn.execute(
            select(u.id, u.disabled_at).where(
                u.b24_portal_id == portal_id, u.b24_user_id == b24_user_id
            )
        )
    ).first()
    if found is not None:
        if found.disabled_at is not None:
            raise UnknownUser("this user is disabled in the admin")
        await _membership(conn, int(found.id), portal_id, "owner", None, "month")
        return int(found.id)
    user_id = await conn.scalar(
        insert(admin_users)
        .values(
            login=f"b24-{portal_id}-{b24_user_id}",
            name=name.strip()[:200],
            b24_portal_id=portal_id,
            b24_user_id=b24_user_id,
            created_at=now,
        )
        .returning(u.id)
    )
    assert user_id is not None
    await _membership(conn, int(user_id), portal_id, "owner", None, "month")
    actor = f"b24:user:{b24_user_id} {name}".strip()
    details = {"role": "owner", "b24_user_id": b24_user_id, "name": name}
    await record(conn, actor, "user.created", f"user:{user_id}", details, portal_id=portal_id)
    return int(user_id)
