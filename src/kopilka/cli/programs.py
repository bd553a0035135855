"""``kopilka program show | history | diff | apply``: a portal's program over time.

``apply`` is the one way a program file reaches a portal (``connect`` applies the first); it
shows what would change first and asks. Nothing else installs a program."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.cli.common import JsonOpt, PortalOpt, load, load_reported, out, print_json, run
from kopilka.cli.render import program_summary
from kopilka.cli.whatif import add_commands, summary, whatif_report
from kopilka.config import get_settings
from kopilka.db.engine import run_in_transaction
from kopilka.lifecycle import queries
from kopilka.lifecycle.diff import unified
from kopilka.lifecycle.schemas import Activation, Applied, in_force, scheduled
from kopilka.lifecycle.service import NoProgram, apply_program
from kopilka.portals.service import local_portal, resolve_portal
from kopilka.process.runtime import open_engine

program_app = typer.Typer(no_args_is_help=True, help="The portal's program: versions, changes.")

FileArg = Annotated[Path, typer.Argument(help="The program file (YAML).", dir_okay=False)]
FromOpt = Annotated[
    datetime | None,
    typer.Option(
        "--from",
        help="When the version takes effect (ISO 8601; default: now). Never in the past.",
        formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"],
    ),
]


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo:
        return moment
    return moment.replace(tzinfo=UTC)


async def _history(portal: str | None) -> tuple[int, list[Activation]]:
    async with open_engine(get_settings()) as engine, engine.connect() as conn:
        portal_id = await resolve_portal(conn, portal)
        found = await queries.activations(conn, portal_id)
    if not found:
        raise NoProgram("this portal has no program yet: `kopilka program apply FILE`")
    return portal_id, found


@program_app.command("show")
def show(portal: PortalOpt = None, as_json: JsonOpt = False) -> None:
    """The version in force: its code, hash, since when and by whom; what is scheduled next."""

    async def go() -> tuple[Activation, list[Activation], str]:
        _portal_id, found = await _history(portal)
        now = datetime.now(UTC)
        current = in_force(found, now)
        assert current is not None
        async with open_engine(get_settings()) as engine, engine.connect() as conn:
            text, _name = await queries.source(conn, current.program_id, current.hash)
        return current, scheduled(found, now), text

    current, later, text = run(go())
    if as_json:
        print_json({"in_force": current, "scheduled": later})
        return
    out.print(
        f"program '{current.code}', version {current.hash[:12]}, in force since "
        f"{current.active_from:%Y-%m-%d %H:%M %Z} (applied by {current.applied_by})"
    )
    for a in later:
        out.print(f"scheduled: version {a.hash[:12]} from {a.active_from:%Y-%m-%d %H:%M %Z}")
    from kopilka.program.loader import parse_program

    out.print(program_summary(parse_program(text, f"version {current.hash[:12]}")))


@program_app.command("history")
def history(portal: PortalOpt = None, as_json: JsonOpt = False) -> None:
    """Every version applied to the portal, oldest first."""
    _portal_id, found = run(_history(portal))
    if as_json:
        print_json(found)
        return
    now = datetime.now(UTC)
    current = in_force(found, now)
    table = Table("#", "version", "code", "in force from", "applied", "by", "")
    for a in found:
        mark = (
            "in force"
            if current and a.id == current.id
            else ("scheduled" if a.active_from > now else "")
        )
        table.add_row(
            str(a.id),
            a.hash[:12],
            a.code,
            f"{a.active_from:%Y-%m-%d %H:%M}",
            f"{a.applied_at:%Y-%m-%d %H:%M}",
            a.applied_by,
            mark,
        )
    out.print(table)


@program_app.command("diff")
def diff(
    file: Annotated[
        Path | None, typer.Argument(help="A program file (default: compare two versions).")
    ] = None,
    old: Annotated[str | None, typer.Option("--old", help="A version (hash prefix).")] = None,
    new: Annotated[str | None, typer.Option("--new", help="A version (hash prefix).")] = None,
    portal: PortalOpt = None,
) -> None:
    """What differs: the version in force (or --old) against FILE (or --new)."""
    if (file is None) == (new is None):
        raise typer.BadParameter("give a FILE or --new VERSION (one of them)")

    async def go() -> str:
        portal_id, found = await _history(portal)
        async with open_engine(get_settings()) as engine, engine.connect() as conn:
            if old is None:
                current = in_force(found, datetime.now(UTC))
                assert current is not None
                left = (current.program_id, current.hash)
            else:
                left = await queries.find_version(conn, portal_id, old)
            left_text, _ = await queries.source(conn, *left)
            if new is not None:
                right = await queries.find_version(conn, portal_id, new)
                right_text, _ = await queries.source(conn, *right)
                right_name = f"version {right[1][:12]}"
            else:
                assert file is not None
                _program, right_text = load(file)
                right_name = str(file)
        return unified(left_text, right_text, f"version {left[1][:12]}", right_name)

    text = run(go())
    out.print(text or "no difference", markup=False, highlight=False)


@program_app.command("apply")
def apply(
    file: FileArg,
    active_from: FromOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; change nothing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    actor: Annotated[str, typer.Option(help="Who applies it (recorded).")] = "cli",
    portal: PortalOpt = None,
) -> None:
    """Make FILE the portal's program from --from (default: now). Deals already won keep the
    version they were priced under; open deals follow the new one. Shows what changes first."""
    program, source = load_reported(file)
    start = _aware(active_from)

    async def preview() -> str:
        async with open_engine(get_settings()) as engine, engine.connect() as conn:
            portal_id = await local_portal(conn, get_settings().default_portal, portal)
            found = await queries.activations(conn, portal_id)
            current = in_force(found, datetime.now(UTC))
            if current is None:
                return (
                    f"portal {portal_id} has no program yet: '{program.program}' will be its first"
                )
            if current.hash == program.hash and start is None:
                return ""
            old, _ = await queries.source(conn, current.program_id, current.hash)
            text = unified(old, source, f"version {current.hash[:12]}", str(file)) or (
                "the same text as the version in force"
            )
            # what it would have given the deals already won (they keep their terms)
            report = await whatif_report(conn, portal_id, program, None)
            return f"{text}\n{summary(report)}"

    report = run(preview())
    if not report:
        out.print(f"version {program.hash[:12]} is already in force: nothing to apply")
        return
    out.print(report, markup=False, highlight=False)
    if dry_run:
        out.print("dry run: nothing was changed")
        return
    if not yes and not typer.confirm("Apply this program?"):
        raise typer.Exit(1)

    async def store(conn: AsyncConnection) -> Applied:
        portal_id = await local_portal(conn, get_settings().default_portal, portal)
        return await apply_program(
            conn,
            portal_id,
            program,
            source,
            actor=actor,
            now=datetime.now(UTC),
            active_from=start,
        )

    async def go() -> Applied:
        async with open_engine(get_settings()) as engine:
            return await run_in_transaction(engine, store)

    done = run(go())
    renamed = f" (renamed from '{done.renamed_from}')" if done.renamed_from else ""
    out.print(
        f"version {done.hash[:12]} of '{program.program}'{renamed} is in force from "
        f"{done.active_from:%Y-%m-%d %H:%M %Z}; deals won before keep their terms"
    )


def register(app: typer.Typer) -> None:
    add_commands(program_app)
    app.add_typer(program_app, name="program")
