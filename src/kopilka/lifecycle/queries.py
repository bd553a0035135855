"""Reading a portal's program lineage: its activations, a version's text, parsed once per
process and hash."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.db.tables import program_activations, program_versions, programs
from kopilka.lifecycle.schemas import Activation
from kopilka.program.loader import parse_program
from kopilka.program.model import Program

_parsed: dict[str, Program] = {}


async def lineage_id(conn: AsyncConnection, portal_id: int) -> int | None:
    found = await conn.scalar(select(programs.c.id).where(programs.c.portal_id == portal_id))
    return None if found is None else int(found)


async def activations(conn: AsyncConnection, portal_id: int) -> list[Activation]:
    """Every activation of the portal's lineage, oldest first."""
    a = program_activations
    rows = await conn.execute(
        select(
            a.c.id,
            a.c.program_id,
            programs.c.code,
            a.c.hash,
            a.c.active_from,
            a.c.applied_at,
            a.c.applied_by,
        )
        .join(programs, programs.c.id == a.c.program_id)
        .where(programs.c.portal_id == portal_id)
        .order_by(a.c.id)
    )
    return [Activation(**r._mapping) for r in rows]


async def version(conn: AsyncConnection, program_id: int, hash_: str) -> Program:
    """The version ``hash_`` of the lineage, parsed (once per process)."""
    program = _parsed.get(hash_)
    if program is None:
        text, name = await source(conn, program_id, hash_)
        program = _parsed[hash_] = parse_program(text, name, stored=True)
    return program


async def source(conn: AsyncConnection, program_id: int, hash_: str) -> tuple[str, str]:
    """A version's text and the name of the file it came from."""
    row = (
        await conn.execute(
            select(program_versions.c.source, program_versions.c.source_name).where(
                program_versions.c.program_id == program_id, program_versions.c.hash == hash_
            )
        )
    ).one()
    return str(row.source), str(row.source_name)


async def find_version(conn: AsyncConnection, portal_id: int, prefix: str) -> tuple[int, str]:
    """The lineage's version whose hash starts with ``prefix`` (at least 6 characters), as
    ``(program_id, hash)``; refused when none or several match."""
    from kopilka.domain.errors import InvalidCommand, NotFound

    prefix = prefix.strip().lower()
    if len(prefix) < 6 or any(c not in "0123456789abcdef" for c in prefix):
        raise InvalidCommand(f"a version is named by 6 or more hex digits of its hash: {prefix!r}")
    rows = (
        await conn.execute(
            select(program_versions.c.program_id, program_versions.c.hash)
            .join(programs, programs.c.id == program_versions.c.program_id)
            .where(programs.c.portal_id == portal_id, program_versions.c.hash.startswith(prefix))
        )
    ).all()
    if len(rows) != 1:
        raise NotFound(f"no single version of this portal's program starts with {prefix!r}")
    return int(rows[0].program_id), str(rows[0].hash)
