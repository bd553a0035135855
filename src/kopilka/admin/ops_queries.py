"""What the operations views read (``/admin/operations``): the job queue, the message outbox,
the Bitrix24 write outbox, parked deals and the portal's health — every number from the
database, for one portal: a job names its portal by its ``portal_id`` argument, a
registration's job by its registration's; a job naming neither, such as the stalled-job check,
belongs to every portal. A failure whose job is gone and names no portal is shown nowhere:
another portal's error is never shown."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.db.tables import (
    b24_connections,
    b24_dirty_deals,
    b24_event_delivery,
    b24_outbox,
    b24_portal_health,
    b24_rejected_events,
    b24_sync_state,
    customers,
    notifications,
    portals,
)

JOB_STATES = ("todo", "doing", "failed", "cancelled", "aborted")
MESSAGE_STATES = ("pending", "sending", "sent", "failed", "skipped", "cancelled")

_JOBS = text("""
SELECT task_name, status::text AS status, count(*) AS n,
       count(*) FILTER (WHERE attempts > 0) AS retried
FROM procrastinate_jobs
WHERE args->>'portal_id' = :portal
   OR (args->>'portal_id' IS NULL AND (args->>'registration_id' IS NULL OR EXISTS (
       SELECT FROM registrations r
       WHERE r.id = (args->>'registration_id')::bigint AND r.portal_id = :portal_id)))
GROUP BY task_name, status
ORDER BY task_name
""")

_FAILURES = text("""
SELECT f.job_id, f.task_name, f.portal_id, f.attempt, f.error, f.failed_at,
       j.status::text AS job_status
FROM job_failures f LEFT JOIN procrastinate_jobs j ON j.id = f.job_id
WHERE f.portal_id = :portal
   OR (f.portal_id IS NULL AND j.id IS NOT NULL AND (j.args->>'registration_id' IS NULL OR EXISTS (
       SELECT FROM registrations r
       WHERE r.id = (j.args->>'registration_id')::bigint AND r.portal_id = :portal)))
ORDER BY f.failed_at DESC, f.id DESC
LIMIT :limit
""")


@dataclass
class TaskRow:
    task: str
    counts: dict[str, int] = field(default_factory=dict)
    retried: int = 0


async def job_queue(conn: AsyncConnection, portal_id: int) -> list[TaskRow]:
    """Per task name: how many jobs wait (todo), run (doing), failed…, and how many of them are
    attempts after the first (retried). Successful jobs are deleted by the worker."""
    rows: dict[str, TaskRow] = {}
    for r in await conn.execute(_JOBS, {"portal": str(portal_id), "portal_id": portal_id}):
        row = rows.setdefault(r.task_name, TaskRow(r.task_name))
        row.counts[r.status] = row.counts.get(r.status, 0) + int(r.n)
        row.retried += int(r.retried)
    return list(rows.values())


async def job_failures(conn: AsyncConnection, portal_id: int, limit: int = 20) -> list[Any]:
    """The newest failed attempts with their error, and what became of the job since."""
    return list(await conn.execute(_FAILURES, {"portal": portal_id, "limit": limit}))


async def message_counts(conn: AsyncConnection, portal_id: int) -> dict[str, dict[str, int]]:
    """{channel: {status: count}} of the portal's outbox."""
    n = notifications.c
    found: dict[str, dict[str, int]] = {}
    rows = await conn.execute(
        select(n.channel, n.status, func.count())
        .where(n.portal_id == portal_id)
        .group_by(n.channel, n.status)
        .order_by(n.channel)
    )
    for channel, status, count in rows:
        found.setdefault(channel, {})[status] = int(count)
    return found


async def messages(
    conn: AsyncConnection,
    portal_id: int,
    *,
    status: str | None,
    channel: str | None,
    limit: int = 100,
) -> list[Any]:
    """The portal's messages, newest first, with the provider's last answer."""
    n = notifications.c
    query = (
        select(
            n.id,
            n.key,
            n.channel,
            n.recipient,
            n.subject,
            n.status,
            n.attempts,
            n.last_error,
            n.provider_id,
            n.created_at,
            n.sent_at,
            n.not_before,
            customers.c.id.label("customer_id"),
            customers.c.name.label("customer_name"),
        )
        .select_from(notifications.outerjoin(customers, customers.c.id == n.customer_id))
        .where(n.portal_id == portal_id)
        .order_by(n.id.desc())
        .limit(limit)
    )
    if status:
        query = query.where(n.status == status)
    if channel:
        query = query.where(n.channel == channel)
    return list(await conn.execute(query))


async def b24_writes(conn: AsyncConnection, portal_id: int) -> tuple[dict[str, int], list[Any]]:
    """The Bitrix24 write outbox: counts per status, and the newest that failed or whose
    outcome is unknown."""
    o = b24_outbox.c
    counts = {
        str(s): int(c)
        for s, c in await conn.execute(
            select(o.status, func.count()).where(o.portal_id == portal_id).group_by(o.status)
        )
    }
    bad = await conn.execute(
        select(o.id, o.method, o.key, o.status, o.attempts, o.last_error, o.created_at)
        .where(o.portal_id == portal_id, o.status.in_(("failed", "unknown")))
        .order_by(o.id.desc())
        .limit(20)
    )
    return counts, list(bad)


@dataclass
class Health:
    member_id: str
    title: str
    connection: Any | None
    health: Any | None
    sync: Any | None
    delivery: Any | None
    dirty: int
    oldest_hint: datetime | None
    rejected_today: int
    rejected: list[Any]


async def portal_health(conn: AsyncConnection, portal_id: int, now: datetime) -> Health:
    portal = (await conn.execute(select(portals).where(portals.c.id == portal_id))).one()

    async def one(table: Any, *cols: Any) -> Any:
        query = select(*cols) if cols else select(table)
        key = table.c.portal_id
        return (await conn.execute(query.where(key == portal_id))).first()

    c = b24_connections.c
    connection = await one(b24_connections, c.domain, c.mode, c.status, c.connected_at)
    d = b24_dirty_deals.c
    dirty, oldest = (
        await conn.execute(
            select(func.count(), func.min(d.hinted_at)).where(d.portal_id == portal_id)
        )
    ).one()
    r = b24_rejected_events.c
    mine = r.member_id == portal.member_id
    rejected_today = await conn.scalar(
        select(func.count()).where(mine, r.received_at > now - timedelta(days=1))
    )
    rejected = await conn.execute(
        select(r.received_at, r.event, r.reason, r.remote)
        .where(mine)
        .order_by(r.received_at.desc(), r.id.desc())
        .limit(10)
    )
    return Health(
        member_id=str(portal.member_id),
        title=str(portal.title),
        connection=connection,
        health=await one(b24_portal_health),
        sync=await one(b24_sync_state),
        delivery=await one(b24_event_delivery),
        dirty=int(dirty),
        oldest_hint=oldest,
        rejected_today=int(rejected_today or 0),
        rejected=list(rejected),
    )
