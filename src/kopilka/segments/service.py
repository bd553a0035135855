"""A mailing segment resolved to contacts and exported (docs/segments.md).

Kopilka's tables judge what they know (opt-outs, levels, balances, purchases, expiring points:
:mod:`kopilka.segments.queries`); the portal is asked, 50 contacts to a command, for the rest:
the contact's e-mail and phone, its type and the fields the program's segments read, and the
opt-out field the program may map. A contact's program segment is judged as for a deal with no
pipeline and no company (a ``pipeline`` or ``has_company`` condition does not hold; the default
segment applies). The exports are in :mod:`kopilka.segments.exports`.
"""

from __future__ import annotations

from typing import Any

from kopilka.bitrix24.connections import (
    UnknownPortal,
    get_connection,
    portal_program,
)
from kopilka.bitrix24.mapping import contact_of
from kopilka.domain.deal import CustomerHistory, Deal
from kopilka.domain.segments import Facts, resolve_segment
from kopilka.notify import contacts as c
from kopilka.phones import InvalidPhone, normalize_phone
from kopilka.process.services import Services
from kopilka.program.fieldrefs import fields_rules_read
from kopilka.program.mailing import MailingSegment
from kopilka.program.model import Program
from kopilka.segments import queries
from kopilka.segments.schemas import Candidate, Member


class SegmentError(Exception):
    """A segment that cannot be exported: ``code`` for the admin's words (``seg.err.<code>``),
    the message in English for the CLI and the logs."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


async def program_of(services: Services, portal_id: int) -> tuple[Any, Any, Program]:
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
    connection, book, program = await program_of(services, portal_id)
    seg = segment_of(program, name)
    async with services.engine.connect() as conn:
        found = await queries.candidates(conn, book, seg, services.now())
    if not found:
        return []
    client = services.client_for(connection)
    records = await c.read_contacts(client, [f.contact_id for f in found], _fields(program))
    chosen = (_member(program, seg, f, records.get(f.contact_id)) for f in found)
    return [m for m in chosen if m is not None]
