"""The program on the app page: the version in force and its history, a new file checked
(every problem with its line, as ``kopilka check`` prints them), previewed (the text's
difference and the what-if over the recorded won deals) and applied from a moment — through
the same ``lifecycle`` paths as ``kopilka program apply``, then the portal provisioned for it.
Nothing here commits: the page runs each step in its own unit of work."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.domain.errors import InvalidCommand
from kopilka.lifecycle import queries
from kopilka.lifecycle.diff import unified
from kopilka.lifecycle.schemas import Activation, WhatIf, in_force, scheduled
from kopilka.lifecycle.service import active_program
from kopilka.lifecycle.whatif import what_if
from kopilka.program.errors import Problem, ProgramFileError
from kopilka.program.loader import parse_program
from kopilka.program.model import Program

#: the largest program file taken (the examples are 2–4 KB)
MAX_FILE = 64 * 1024


@dataclass(frozen=True, slots=True)
class Lineage:
    current: Activation | None
    title: str | None
    later: list[Activation]
    history: list[Activation]  # newest first


async def lineage(conn: AsyncConnection, portal_id: int, now: datetime) -> Lineage:
    found = await queries.activations(conn, portal_id)
    current = in_force(found, now)
    title = None
    if current is not None:
        title = (await queries.version(conn, current.program_id, current.hash)).title
    return Lineage(current, title, scheduled(found, now), list(reversed(found)))


@dataclass
class Checked:
    """An uploaded file read: the program when it loads, else its problems (with lines)."""

    name: str
    source: str
    program: Program | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def carried(self) -> str:
        """The text as the apply form carries it: base64 of its bytes, because a browser
        turns a form value's line breaks into CRLF, which would change the version's hash."""
        return base64.b64encode(self.source.encode()).decode()


def carried(value: str) -> bytes:
    """The bytes an apply form carried (:attr:`Checked.carried`); b"" when garbled."""
    try:
        return base64.b64decode(value.encode(), validate=True)
    except (binascii.Error, ValueError):
        return b""


def check(raw: bytes, name: str) -> Checked:
    name = (name or "program.yaml").rsplit("/", 1)[-1][:100]
    if len(raw) > MAX_FILE:
        return Checked(name, "", problems=[Problem(name, None, "", f"larger than {MAX_FILE} B")])
    try:
        source = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Checked(name, "", problems=[Problem(name, None, "", "not UTF-8 text")])
    try:
        program = parse_program(source, name)
    except ProgramFileError as exc:
        return Checked(name, source, problems=exc.problems)
    return Checked(name, source, program, problems=list(program.warnings))


@dataclass(frozen=True, slots=True)
class Preview:
    diff: str  # '' for a portal's first program or the same text
    report: WhatIf | None  # None for a portal's first program


async def preview(
    conn: AsyncConnection, portal_id: int, candidate: Program, source: str, now: datetime
) -> Preview:
    found = in_force(await queries.activations(conn, portal_id), now)
    if found is None:
        return Preview("", None)
    old, _ = await queries.source(conn, found.program_id, found.hash)
    book, program = await active_program(conn, portal_id, now)
    outcome = await what_if(conn, book, program, candidate, since=None, now=now)
    name = f"version {found.hash[:12]}"
    return Preview(unified(old, source, name, candidate.source_name), outcome.report)


def moment(raw: str, program: Program) -> datetime | None:
    """``active_from`` from the page (``YYYY-MM-DDTHH:MM``, the program's time zone); None
    for now."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidCommand(f"not a date and time: {raw[:40]!r}") from None
    return at if at.tzinfo else at.replace(tzinfo=program.tz)
