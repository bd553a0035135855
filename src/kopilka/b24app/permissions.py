"""Who may do what inside the portal (issue 17, R-11 "who may grant how much").

The portal's administrators (``profile.ADMIN``, as the portal says at every page opening) are the
program's owners: they edit these limits and grant without one unless a limit names them. Every
other Bitrix24 user is a manager. A limit caps what one person grants by hand per period, in all
reasons and to all contacts together: the managers' limit applies to every manager, a user's
own limit overrides it. No limit stored: only the program's own limits per reason apply.

The ledger enforces it (``ledger.grants``: the :class:`Granter` passed in is counted and locked);
this module only says which limit is whose.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.audit import record
from kopilka.db.tables import b24_grant_limits
from kopilka.domain.errors import InvalidCommand
from kopilka.domain.manual import Granter, GranterLimit
from kopilka.program.policies import GrantPeriod

PERIODS = ("day", "week", "month", "year")
Period = Literal["day", "week", "month", "year"]
MANAGER = "manager"


@dataclass(frozen=True, slots=True)
class Limit:
    id: int
    role: str | None
    user_id: int | None
    user_name: str
    max_total: int  # kopecks of points
    period: str
    updated_by: str
    updated_at: datetime

    @property
    def changed_by(self) -> str:
        """Who changed it, as a person reads it: «Иван Петров» for ``b24:user:1 Иван Петров``."""
        head, _, name = self.updated_by.partition(" ")
        return name if head.startswith("b24:user:") and name else self.updated_by

    @property
    def label(self) -> str:
        return f"user:{self.user_id}" if self.user_id is not None else f"role:{self.role}"


def granter_id(user_id: int) -> str:
    """How the ledger names a Bitrix24 user who grants (``rule_inputs.granter``)."""
    return f"b24:user:{user_id}"


async def limits(conn: AsyncConnection, portal_id: int) -> list[Limit]:
    g = b24_grant_limits.c
    rows = await conn.execute(
        select(b24_grant_limits)
        .where(g.portal_id == portal_id)
        .order_by(g.user_id.asc().nulls_first(), g.id)
    )
    return [
        Limit(
            int(r.id),
            r.role,
            r.user_id,
            r.user_name,
            int(r.max_total),
            r.period,
            r.updated_by,
            r.updated_at,
        )
        for r in rows
    ]


def limit_of(found: list[Limit], user_id: int, is_admin: bool) -> Limit | None:
    """The user's own limit, else (for a manager) the managers' one, else none."""
    own = next((x for x in found if x.user_id == user_id), None)
    if own is not None or is_admin:
        return own
    return next((x for x in found if x.role == MANAGER), None)


async def granter_of(
    conn: AsyncConnection, portal_id: int, user_id: int, is_admin: bool
) -> Granter:
    """The person a grant is counted against, with the limit that applies to them."""
    found = limit_of(await limits(conn, portal_id), user_id, is_admin)
    limit = None
    if found is not None:
        period = GrantPeriod(kind=found.period)
        limit = GranterLimit(found.max_total, period, found.label)
    return Granter(granter_id(user_id), limit)


async def set_limit(
    conn: AsyncConnection,
    portal_id: int,
    *,
    user_id: int | None,
    user_name: str = "",
    max_total: int,
    period: str,
    actor: str,
    now: datetime,
) -> None:
    """Set the managers' limit (``user_id`` None) or one user's; one of each at most."""
    if period not in PERIODS:
        raise InvalidCommand(f"the period is one of {', '.join(PERIODS)}, not {period!r}")
    if not 0 <= max_total <= 10**14:
        raise InvalidCommand("the limit is a number of points, 0 or more")
    if user_id is not None and user_id <= 0:
        raise InvalidCommand("a Bitrix24 user id is a positive number")
    g = b24_grant_limits.c
    values = {
        "portal_id": portal_id,
        "role": None if user_id is not None else MANAGER,
        "user_id": user_id,
        "user_name": user_name.strip()[:200],
        "max_total": max_total,
        "period": period,
        "updated_by": actor[:200] or "?",
        "updated_at": now,
    }
    target = [g.portal_id, g.user_id] if user_id is not None else [g.portal_id, g.role]
    where = g.user_id.isnot(None) if user_id is not None else g.role.isnot(None)
    changed = {k: v for k, v in values.items() if k not in ("portal_id", "role", "user_id")}
    if user_id is not None and not values["user_name"]:
        changed.pop("user_name")  # keep the name already known
    await conn.execute(
        insert(b24_grant_limits)
        .values(**values)
        .on_conflict_do_update(index_elements=target, index_where=where, set_=changed)
    )
    whom = f"b24:user:{user_id}" if user_id is not None else f"role:{MANAGER}"
    details = {"max_total": max_total, "period": period, "name": values["user_name"]}
    await record(conn, actor, "limit.set", whom, details, portal_id=portal_id, at=now)


async def remove_limit(
    conn: AsyncConnection, portal_id: int, limit_id: int, *, actor: str = "?"
) -> bool:
    g = b24_grant_limits.c
    gone = (
        await conn.execute(
            delete(b24_grant_limits)
            .where(g.portal_id == portal_id, g.id == limit_id)
            .returning(g.role, g.user_id, g.max_total, g.period)
        )
    ).first()
    if gone is not None:
        whom = f"b24:user:{gone.user_id}" if gone.user_id is not None else f"role:{gone.role}"
        details = {"limit": limit_id, "max_total": int(gone.max_total), "period": gone.period}
        await record(conn, actor, "limit.removed", whom, details, portal_id=portal_id)
    return gone is not None
