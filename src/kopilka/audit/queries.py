"""Reading the audit log: newest first, filtered by portal, person, action and dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.db.tables import audit_log


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    at: datetime
    portal_id: int | None
    actor: str
    action: str
    subject: str
    details: dict[str, Any]
    reason: str


@dataclass(frozen=True, slots=True)
class AuditFilter:
    portal_ids: tuple[int, ...] = ()  # empty: every portal (the CLI); the admin passes its own
    actor: str = ""  # a substring of the person
    action: str = ""  # an action, or its prefix ("grant" finds grant.posted, grant.requested)
    since: datetime | None = None
    until: datetime | None = None


async def search(conn: AsyncConnection, f: AuditFilter, *, limit: int = 200) -> list[AuditRow]:
    a = audit_log.c
    query = select(audit_log).order_by(a.at.desc(), a.id.desc()).limit(limit)
    if f.portal_ids:
        query = query.where(a.portal_id.in_(f.portal_ids))
    if f.actor:
        query = query.where(a.actor.contains(f.actor, autoescape=True))
    if f.action:
        query = query.where(
            (a.action == f.action) | a.action.startswith(f.action + ".", autoescape=True)
        )
    if f.since is not None:
        query = query.where(a.at >= f.since)
    if f.until is not None:
        query = query.where(a.at < f.until)
    rows = await conn.execute(query)
    return [
        AuditRow(
            int(r.id), r.at, r.portal_id, r.actor, r.action, r.subject, dict(r.details), r.reason
        )
        for r in rows
    ]


async def actions(conn: AsyncConnection, portal_ids: tuple[int, ...]) -> list[str]:
    """The actions the log holds for these portals (the filter's choices)."""
    a = audit_log.c
    rows = await conn.execute(
        select(a.action).where(a.portal_id.in_(portal_ids)).distinct().order_by(a.action)
    )
    return [str(r[0]) for r in rows]
