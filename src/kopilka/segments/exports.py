"""A mailing segment exported to its UniSender list or as CSV, on demand or daily. Every
export is recorded in ``segment_exports``, done or failed, with who asked: the admin, the CLI
or the daily job (docs/segments.md)."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24.connections import active_connections, portal_program
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import segment_exports
from kopilka.notify.service import http_of
from kopilka.process.services import Services
from kopilka.segments import queries
from kopilka.segments.listed import leavers, listed, replace_listed, rows_of
from kopilka.segments.schemas import Export, Member
from kopilka.segments.service import SegmentError, members, program_of, segment_of
from kopilka.segments.unisender import ExportError, configured, import_contacts

log = logging.getLogger("kopilka.segments")


async def _record(
    services: Services,
    portal_id: int,
    out: Export,
    *,
    trigger: str,
    actor: str,
    list_id: int | None,
    started: datetime,
    day: Any,
) -> None:
    values = {
        "portal_id": portal_id,
        "segment": out.segment[:100],
        "target": out.target,
        "trigger": trigger,
        "actor": actor[:200],
        "list_id": list_id,
        "status": "failed" if out.error else "done",
        "contacts": out.contacts,
        "inserted": out.inserted if out.target == "unisender" else None,
        "updated": out.updated if out.target == "unisender" else None,
        "invalid": out.invalid if out.target == "unisender" else None,
        "deleted": out.deleted if out.target == "unisender" else None,
        "error": out.error[:1000] if out.error else None,
        "log": out.log,
        "day": day,
        "started_at": started,
        "finished_at": services.now(),
    }

    async def unit(conn: AsyncConnection) -> int:
        inserted = await conn.execute(
            segment_exports.insert().values(**values).returning(segment_exports.c.id)
        )
        return int(inserted.scalar_one())

    out.export_id = await run_in_transaction(services.engine, unit)


async def _to_list(
    services: Services, portal_id: int, name: str, channel: str, list_id: int, out: Export
) -> None:
    """Take the leavers out of the list, put the members in, then remember who it holds (only
    once UniSender took both: a failed export takes them out next time)."""
    found = await members(services, portal_id, name)
    out.contacts = len(found)
    rows = rows_of(found, channel)
    async with services.engine.connect() as conn:
        previous = await listed(conn, portal_id, name, list_id)
    http, settings = http_of(services), services.settings
    await import_contacts(http, settings, leavers(previous, rows), list_id, out)
    await import_contacts(http, settings, rows, list_id, out)

    async def unit(conn: AsyncConnection) -> None:
        await replace_listed(conn, portal_id, name, list_id, rows, services.now())

    await run_in_transaction(services.engine, unit)


async def export_unisender(
    services: Services, portal_id: int, name: str, *, trigger: str, actor: str
) -> Export:
    """Put the segment's contacts in its UniSender list and take out who left it; recorded,
    done or failed. Raises
    :class:`SegmentError` (nothing recorded) for a segment that cannot be exported at all."""
    started = services.now()
    _connection, _book, program = await program_of(services, portal_id)
    seg = segment_of(program, name)
    if seg.unisender_list is None:
        raise SegmentError("no_list", f"mailing segment '{name}' names no unisender_list")
    if not configured(services.settings):
        raise SegmentError(
            "not_configured", "UniSender is not configured (KOPILKA_UNISENDER_API_KEY)"
        )
    out = Export(name, "unisender")
    try:
        await _to_list(services, portal_id, name, seg.channel, seg.unisender_list, out)
    except ExportError as exc:
        out.error = str(exc)
    except Exception as exc:  # the portal, most likely: recorded, and the job logs it
        out.error = f"{type(exc).__name__}: {exc}"[:1000]
    day = started.astimezone(program.tz).date()
    await _record(
        services,
        portal_id,
        out,
        trigger=trigger,
        actor=actor,
        list_id=seg.unisender_list,
        started=started,
        day=day,
    )
    log.info(
        "segment %s of portal %d: %d contacts to list %d%s",
        name,
        portal_id,
        out.contacts,
        seg.unisender_list,
        f" — failed: {out.error}" if out.error else "",
    )
    return out


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula (a name typed as ``=HYPERLINK(…)``)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(found: Sequence[Member]) -> str:
    """``contact_id, name, email, phone``; the phone is E.164 (its ``+`` is no formula)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["contact_id", "name", "email", "phone"])
    for m in found:
        writer.writerow([m.contact_id, _cell(m.name), _cell(m.email or ""), m.phone or ""])
    return buffer.getvalue()


async def export_csv(
    services: Services, portal_id: int, name: str, *, trigger: str, actor: str
) -> tuple[Export, str]:
    """The segment's contacts as CSV (contact_id, name, email, phone); the export recorded."""
    started = services.now()
    _connection, _book, program = await program_of(services, portal_id)
    segment_of(program, name)
    found = await members(services, portal_id, name)
    out = Export(name, "csv", contacts=len(found))
    day = started.astimezone(program.tz).date()
    await _record(
        services,
        portal_id,
        out,
        trigger=trigger,
        actor=actor,
        list_id=None,
        started=started,
        day=day,
    )
    return out, to_csv(found)


async def _due_today(services: Services, connection: Any) -> list[str]:
    async with services.engine.connect() as conn:
        _book, program = await portal_program(conn, connection, services.now())
        day = services.now().astimezone(program.tz).date()
        return [
            name
            for name, seg in program.mailing.segments.items()
            if seg.daily and not await queries.exported_today(conn, connection.portal_id, name, day)
        ]


async def run_daily(services: Services) -> list[Export]:
    """Export every ``daily`` segment of every connected portal once a (program-local) day."""
    done: list[Export] = []
    async with services.engine.connect() as conn:
        connections = await active_connections(conn)
    for connection in connections:
        try:
            due = await _due_today(services, connection)
        except Exception as exc:  # no program yet, the database: the next hour tries again
            log.warning("daily segments of portal %d: %s", connection.portal_id, exc)
            continue
        for name in due:
            try:
                done.append(
                    await export_unisender(
                        services, connection.portal_id, name, trigger="daily", actor="daily"
                    )
                )
            except SegmentError as exc:
                log.warning("segment %s of portal %d: %s", name, connection.portal_id, exc)
    return done
