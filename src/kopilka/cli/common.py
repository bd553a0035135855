"""What every command shares: options, opening a program's book, printing, and errors."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.config import get_settings
from kopilka.db.engine import run_in_transaction
from kopilka.domain.errors import KopilkaError
from kopilka.ledger.types import Book
from kopilka.lifecycle.service import active_program
from kopilka.portals.service import resolve_portal
from kopilka.process.runtime import open_engine
from kopilka.program.errors import ProgramFileError
from kopilka.program.loader import load_program
from kopilka.program.model import Program

T = TypeVar("T")
out = Console(highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)  # one problem, one line

PortalOpt = Annotated[
    str | None,
    typer.Option(
        "--portal",
        envvar="KOPILKA_PORTAL",
        help="The portal: its id, member_id or domain (`kopilka portal list`); default: the "
        "only one.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def to_jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(to_jsonable(value), ensure_ascii=False, indent=2) + "\n")


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; turn expected failures into a message and an exit code."""
    try:
        return asyncio.run(coro)
    except ProgramFileError as exc:
        for problem in exc.problems:
            err.print(f"[red]{problem}[/]")
        raise typer.Exit(1) from None
    except KopilkaError as exc:
        raise fail(f"{exc.message} [{exc.code}]") from None


def load(program_path: Path) -> tuple[Program, str]:
    program = load_program(program_path)
    return program, program_path.read_text(encoding="utf-8")


def load_reported(program_path: Path) -> tuple[Program, str]:
    """:func:`load`, a bad file's problems printed each with its line, exit 1 (as :func:`run`)."""

    async def loaded() -> tuple[Program, str]:
        return load(program_path)

    return run(loaded())


async def with_book(
    portal: str | None,
    work: Callable[[AsyncConnection, Book, Program], Awaitable[T]],
    at: datetime | None = None,
) -> T:
    """Open the database, find the portal and the version of its program in force, and run
    ``work`` in one transaction. No program is read from a file here: only ``kopilka program
    apply`` (and ``connect``) install one."""
    async with open_engine(get_settings()) as engine:

        async def unit(conn: AsyncConnection) -> T:
            portal_id = await resolve_portal(conn, portal)
            book, program = await active_program(conn, portal_id, at or datetime.now(UTC))
            return await work(conn, book, program)

        return await run_in_transaction(engine, unit)
