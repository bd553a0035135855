"""A mailing segment resolved to contacts and exported (docs/segments.md).

Kopilka's tables judge what they know (opt-outs, levels, balances, purchases, expiring points:
:mod:`kopilka.segments.queries`); the portal is asked, 50 contacts to a command, for the rest:
the contact's e-mail and phone, its type and the fields the program's segments read, and the
opt-out field the program may map. A contact's program segment is judged as for a deal with no
pipeline and no company (a ``pipeline`` or ``has_company`` condition does not hold; the default
segment applies). Every export is recorded in ``segment_exports``, done or failed, with who
asked: the admin, the CLI or the daily job.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24.connections import (
    UnknownPortal,
    active_connections,
    get_connection,
    portal_program,
)
from kopilka.bitrix24.mapping import contact_of
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import segment_exports
from kopilka.domain.deal import CustomerHistory, Deal
from kopilka.domain.segments import Facts, resolve_segment
from kopilka.notify import contacts as c
from kopilka.notify.service import http_of
from kopilka.phones import InvalidPhone, normalize_phone
from kopilka.process.services import Services
from kopilka.program.fieldrefs import fields_rules_read
from kopilka.program.mailing import MailingSegment
from kopilka.program.model import Program
from kopilka.segments import queries
from kopilka.segments.schemas import Candidate, Export, Member
from kopilka.segments.unisender import ExportError, configured, import_contacts

log = logging.getLogger("kopilka.segments")


class SegmentError(Exception):
    """A segment that cannot be exported: ``code`` for the admin's words (``seg.err.<code>``),
    the message in English for the CLI and the logs."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


async def _program(services: Services, portal_id: int) -> tuple[Any, Any, Program]:
    async with services.engine.connect() as conn:
        try:
            connection = await get_connection(conn, portal_id)
        except UnknownPortal:
            raise SegmentError("not_connected", "the portal is not connected to Bitrix24") from None
        book, program = await portal_program(conn, connection, services.now())
    return connection, book, program


def segment_of(program: Program, name: str) -> MailingSegment:
    seg = program.mailing.segments.get(name)
    if seg is None:
        known = ", ".join(program.mailing.segments) or "none"
        raise SegmentError(
            "unknown", f"no mailing segment '{name}' in the program — known: {known}"
        )
    return seg


def contact_segment(program: Program, contact_id: int, record: dict[str, Any]) -> str | None:
    contact = contact_of(contact_id, record, is_primary=True)
    no_deal = Deal(id=0, pipeline_id=-1, stage="process", opportunity=0, contacts=(contact,))
    return resolve_segment(Facts(program, no_deal, contact, CustomerHistory()))


def _fields(program: Program) -> list[str]:
    wanted = {"TYPE_ID", *program.fields.read.contact}
    wanted |= {code for _path, entity, code in fields_rules_read(program) if entity == "contact"}
    if program.notifications.opt_out_field:
        wanted.add(program.notifications.opt_out_field)
    return sorted(wanted)


def _phone(record: dict[str, Any], stored: str | None) -> str | None:
    found = c.sms_phone(record)
    if found or not stored:
        return found
    try:
        return normalize_phone(stored)
    except InvalidPhone:
        return None


def _member(
    program: Program, seg: MailingSegment, cand: Candidate, record: dict[str, Any] | None
) -> Member | None:
    if record is None:  # deleted in the portal since
        return None
    field = program.notifications.opt_out_field
    if field and c.truthy(record.get(field)):
        return None
    if seg.segments is not None and contact_segment(program, cand.contact_id, record) not in (
        seg.segments
    ):
        return None
    email, phone = c.email(record), _phone(record, cand.phone)
    wanted = {"email": email, "sms": phone, "any": email or phone}[seg.channel]
    if not wanted:
        return None
    name = c.full_name(record) or cand.name
    return Member(cand.customer_id, cand.contact_id, name, email, phone)


async def members(services: Services, portal_id: int, name: str) -> list[Member]:
    """Who is in the segment now (not opted out; with the e-mail or phone it needs)."""
    connection, book, program = await _program(services, portal_id)
    seg = segment_of(program, name)
    async with services.engine.connect() as conn:
        found = await queries.candidates(conn, book, seg, services.now())
    if not found:
        return []
    client = services.client_for(connection)
    records = await c.read_contacts(client, [f.contact_id for f in found], _fields(program))
    chosen = (_member(program, seg, f, records.get(f.contact_id)) for f in found)
    return [m for m in chosen if m is not None]


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


async def export_unisender(
    services: Services, portal_id: int, name: str, *, trigger: str, actor: str
) -> Export:
    """Put the segment's contacts in its UniSender list; recorded, done or failed. Raises
    :class:`SegmentError` (nothing recorded) for a segment that cannot be exported at all."""
    started = services.now()
    _connection, _book, program = await _program(services, portal_id)
    seg = segment_of(program, name)
    if seg.unisender_list is None:
        raise SegmentError("no_list", f"mailing segment '{name}' names no unisender_list")
    if not configured(services.settings):
        raise SegmentError(
            "not_configured", "UniSender is not configured (KOPILKA_UNISENDER_API_KEY)"
        )
    out = Export(name, "unisender")
    try:
        found = await members(services, portal_id, name)
        out.contacts = len(found)
        await import_contacts(
            http_of(services), services.settings, found, seg.unisender_list, out, seg.channel
        )
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


def to_csv(found: Sequence[Member]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["contact_id", "name", "email", "phone"])
    for m in found:
        writer.writerow([m.contact_id, m.name, m.email or "", m.phone or ""])
    return buffer.getvalue()


async def export_csv(
    services: Services, portal_id: int, name: str, *, trigger: str, actor: str
) -> tuple[Export, str]:
    """The segment's contacts as CSV (contact_id, name, email, phone); the export recorded."""
    started = services.now()
    _connection, _book, program = await _program(services, portal_id)
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


async def run_daily(services: Services) -> list[Export]:
    """Export every ``daily`` segment of every connected portal once a (program-local) day."""
    done: list[Export] = []
    async with services.engine.connect() as conn:
        connections = await active_connections(conn)
    for connection in connections:
        async with services.engine.connect() as conn:
            _book, program = await portal_program(conn, connection, services.now())
            day = services.now().astimezone(program.tz).date()
            due = [
                name
                for name, seg in program.mailing.segments.items()
                if seg.daily
                and not await queries.exported_today(conn, connection.portal_id, name, day)
            ]
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
