"""What the daily jobs share: their names, the report, the record of a day's run, sending the
writes, and waiting for the portal's running sync."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24.connections import Connection
from kopilka.bitrix24.sync import SYNC_LOCK, SyncReport, sync_portal
from kopilka.db.tables import b24_daily_runs
from kopilka.process.services import Services
from kopilka.program.model import Program

log = logging.getLogger("kopilka.bitrix24.daily")

BIRTHDAYS, TOTALS, EXPIRY = "birthdays", "totals", "expiry"

JOBS = (EXPIRY, BIRTHDAYS, TOTALS)

EXPIRY_CHUNK = 200  # accounts per transaction

TOTALS_CHUNK = 500  # contacts per transaction

CONTACT_PREFIX = "contact:"


@dataclass
class DailyReport:
    day: date | None = None
    ran: list[str] = field(default_factory=list)
    expired_entries: int = 0
    expired_points: int = 0
    contacts_read: int = 0
    birthdays_on: int = 0
    birthdays_off: int = 0
    vanished_deals: int = 0
    refreshed_contacts: int = 0
    sync: SyncReport = field(default_factory=SyncReport)

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat() if self.day else None,
            "ran": self.ran,
            "expired_entries": self.expired_entries,
            "expired_points": self.expired_points,
            "contacts_read": self.contacts_read,
            "birthdays_on": self.birthdays_on,
            "birthdays_off": self.birthdays_off,
            "vanished_deals": self.vanished_deals,
            "refreshed_contacts": self.refreshed_contacts,
            "deals_synced": self.sync.deals,
            "writes": self.sync.writes,
        }


async def serialise_with_sync(conn: AsyncConnection, portal_id: int) -> None:
    """Wait for the portal's running sync and keep the next one out until this transaction
    ends. A transaction that recomputes contact fields outside the sync must take this first:
    otherwise it could queue a value computed before a deal settled, after the sync queued the
    newer one, and the older value would be the one left on the portal."""
    await conn.execute(
        text("SELECT pg_advisory_xact_lock(:ns, :portal)"), {"ns": SYNC_LOCK, "portal": portal_id}
    )


def contact_id_of(external_id: str) -> int | None:
    tail = external_id.removeprefix(CONTACT_PREFIX)
    return int(tail) if external_id.startswith(CONTACT_PREFIX) and tail.isdigit() else None


def local_day(program: Program, now: datetime) -> date:
    return now.astimezone(program.tz).date()


async def has_run(conn: AsyncConnection, portal_id: int, job: str, day: date) -> bool:
    found = await conn.scalar(
        select(b24_daily_runs.c.day).where(
            b24_daily_runs.c.portal_id == portal_id,
            b24_daily_runs.c.job == job,
            b24_daily_runs.c.day == day,
        )
    )
    return found is not None


async def record_run(
    conn: AsyncConnection, portal_id: int, job: str, day: date, stats: Mapping[str, Any]
) -> None:
    stmt = insert(b24_daily_runs).values(portal_id=portal_id, job=job, day=day, stats=dict(stats))
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["portal_id", "job", "day"],
            set_={"stats": stmt.excluded.stats, "finished_at": stmt.excluded.finished_at},
        )
    )


async def flush(services: Services, connection: Connection) -> SyncReport:
    """Send the portal's queued writes, by a sync of the portal: one sender at a time, and any
    deal hinted meanwhile is settled on the way."""
    return await sync_portal(
        services.engine,
        services.client_for(connection),
        connection,
        now=services.now,
        comments=services.settings.b24_timeline_comments,
    )
