"""Applying a program version to a portal, and the (book, program) of the version in force.

Every way a program reaches a portal goes through :func:`apply_program` (``kopilka program
apply``, ``kopilka connect``, the demo, the tests): nothing else installs one. Reading commands
use :func:`active_program` and never write a program.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.audit import record
from kopilka.db.tables import program_activations, program_versions, programs
from kopilka.domain.errors import InvalidCommand, NotFound
from kopilka.ledger.types import Book
from kopilka.lifecycle.queries import activations, lineage_id, version
from kopilka.lifecycle.schemas import Applied, in_force, scheduled
from kopilka.program.model import Program

#: how far in the past ``--from`` may lie (a clock's skew): an earlier moment would re-price
#: deals already won, which only ``kopilka program reprice`` does, on purpose.
PAST_TOLERANCE = timedelta(minutes=5)


class NoProgram(NotFound):
    code = "no_program"


def book_of(portal_id: int, program_id: int, code: str, program: Program) -> Book:
    """The book a version posts in: the lineage's accounts, entries stamped with the version."""
    return Book(
        portal_id=portal_id,
        program_id=program_id,
        program_code=code,
        program_hash=program.hash,
        timezone=ZoneInfo(program.timezone),
    )


async def active_program(
    conn: AsyncConnection, portal_id: int, at: datetime
) -> tuple[Book, Program]:
    """The portal's book and the version of its program in force at ``at``."""
    found = in_force(await activations(conn, portal_id), at)
    if found is None:
        raise NoProgram(
            "this portal has no program yet: run `kopilka program apply FILE` (or `kopilka "
            "connect … --program FILE`)"
        )
    program = await version(conn, found.program_id, found.hash)
    return book_of(portal_id, found.program_id, found.code, program), program


async def apply_program(
    conn: AsyncConnection,
    portal_id: int,
    program: Program,
    source: str,
    *,
    actor: str,
    now: datetime,
    active_from: datetime | None = None,
) -> Applied:
    """Record ``program`` as a version of the portal's lineage and put it in force from
    ``active_from`` (default: now). Deals already won keep the version they were priced under;
    open deals follow the version in force. A new ``program:`` code renames the lineage (the
    book, its accounts and balances stay). Applying the version already in force, with nothing
    scheduled after it, changes nothing."""
    start = active_from or now
    if start < now - PAST_TOLERANCE:
        raise InvalidCommand(
            f"a program cannot take effect in the past ({start.isoformat()}): deals won since "
            "then keep the terms they were won under; to re-price them on purpose, apply it "
            "now and run `kopilka program reprice --since DATE`"
        )
    history = await activations(conn, portal_id)
    current = in_force(history, now)
    program_id = await lineage_id(conn, portal_id)
    renamed_from = None
    if program_id is None:
        program_id = await conn.scalar(
            insert(programs)
            .values(
                portal_id=portal_id,
                code=program.program,
                title=program.title,
                timezone=program.timezone,
            )
            .returning(programs.c.id)
        )
        assert program_id is not None
    else:
        old_code = history[-1].code if history else None
        if old_code is not None and old_code != program.program:
            renamed_from = old_code
        await conn.execute(
            update(programs)
            .where(programs.c.id == program_id)
            .values(code=program.program, title=program.title, timezone=program.timezone)
        )
    if current is not None and current.hash == program.hash and active_from is None:
        if not scheduled(history, now):
            return Applied(
                program_id,
                program.hash,
                current.active_from,
                current.hash,
                renamed_from,
                changed=False,
            )
    await conn.execute(
        insert(program_versions)
        .values(
            program_id=program_id,
            hash=program.hash,
            source_name=program.source_name,
            source=source,
        )
        .on_conflict_do_nothing()
    )
    await conn.execute(
        insert(program_activations).values(
            program_id=program_id, hash=program.hash, active_from=start, applied_by=actor
        )
    )
    details = {"hash": program.hash, "code": program.program, "active_from": start.isoformat()}
    await record(
        conn,
        actor,
        "program.applied",
        f"program:{program.program}",
        details,
        portal_id=portal_id,
        at=now,
    )
    return Applied(program_id, program.hash, start, current.hash if current else None, renamed_from)


async def priced_versions(conn: AsyncConnection, portal_id: int) -> dict[str, tuple[Book, Program]]:
    """Every version of the portal's lineage with its book: what a won deal is re-settled
    under (the version it was priced by)."""
    found: dict[str, tuple[Book, Program]] = {}
    for a in await activations(conn, portal_id):
        if a.hash not in found:
            program = await version(conn, a.program_id, a.hash)
            found[a.hash] = (book_of(portal_id, a.program_id, a.code, program), program)
    return found


async def install_program(
    conn: AsyncConnection,
    portal_id: int,
    program: Program,
    source: str,
    *,
    actor: str = "kopilka",
    now: datetime | None = None,
) -> Book:
    """:func:`apply_program` from now, and the book the version posts in."""
    moment = now or datetime.now(UTC)
    applied = await apply_program(conn, portal_id, program, source, actor=actor, now=moment)
    code = await conn.scalar(select(programs.c.code).where(programs.c.id == applied.program_id))
    return book_of(portal_id, applied.program_id, str(code), program)
