"""``kopilka segment list | show | export``: the program's mailing segments from the command
line — who is in one, and its export to the UniSender list or a CSV file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kopilka.cli.bitrix24 import PortalRef, _connection
from kopilka.cli.common import fail, out, run
from kopilka.config import get_settings
from kopilka.process.services import open_services

segment_app = typer.Typer(no_args_is_help=True, help="Segments for mailings (UniSender, CSV).")


@segment_app.command("list")
def list_segments(portal: PortalRef = None) -> None:
    """The program's mailing segments."""
    from kopilka.bitrix24.connections import portal_program

    async def go() -> None:
        async with open_services(get_settings()) as services:
            connection = await _connection(services, portal)
            async with services.engine.connect() as conn:
                _book, program = await portal_program(conn, connection)
        for name, seg in program.mailing.segments.items():
            where = f"UniSender list {seg.unisender_list}" if seg.unisender_list else "CSV only"
            daily = ", daily" if seg.daily else ""
            out.print(f"{name}: {seg.title} ({where}{daily})")
        if not program.mailing.segments:
            out.print("no mailing segments in the program (its mailing: block)")

    run(go())


@segment_app.command("show")
def show(name: str, portal: PortalRef = None) -> None:
    """Who is in the segment now, as CSV (contact_id, name, email, phone) on stdout."""
    from kopilka.segments.exports import to_csv
    from kopilka.segments.service import SegmentError, members

    async def go() -> None:
        async with open_services(get_settings()) as services:
            connection = await _connection(services, portal)
            try:
                found = await members(services, connection.portal_id, name)
            except SegmentError as exc:
                raise fail(str(exc)) from None
        typer.echo(to_csv(found), nl=False)

    run(go())


@segment_app.command("export")
def export(
    name: str,
    portal: PortalRef = None,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Write a CSV file instead of UniSender.")
    ] = None,
) -> None:
    """Export the segment to its UniSender list (or, with --csv, to a file); recorded."""
    from kopilka.segments.exports import export_csv, export_unisender
    from kopilka.segments.service import SegmentError

    async def go() -> None:
        async with open_services(get_settings()) as services:
            connection = await _connection(services, portal)
            try:
                if csv_file is not None:
                    done, text = await export_csv(
                        services, connection.portal_id, name, trigger="cli", actor="cli"
                    )
                    csv_file.write_text(text, encoding="utf-8")
                    out.print(f"{done.contacts} contacts written to {csv_file}")
                    return
                result = await export_unisender(
                    services, connection.portal_id, name, trigger="cli", actor="cli"
                )
            except SegmentError as exc:
                raise fail(str(exc)) from None
        if result.error:
            raise fail(f"export failed after {result.contacts} contacts: {result.error}")
        out.print(
            f"{result.contacts} contacts: {result.inserted} inserted, {result.updated} updated, "
            f"{result.invalid} invalid"
        )

    run(go())


def register(app: typer.Typer) -> None:
    app.add_typer(segment_app, name="segment")
