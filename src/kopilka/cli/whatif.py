"""``kopilka program whatif | reprice``: what a candidate program would have done to the
portal's recorded won deals (nothing written), and a deliberate re-pricing of the won deals
since a date under the version in force (a preview first, then only the differences)."""

from __future__ import annotations

import csv
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.cli.common import JsonOpt, PortalOpt, load, out, print_json, run
from kopilka.config import get_settings
from kopilka.domain.money import format_points
from kopilka.lifecycle.reprice import Repriced, Shortfall, preview, reprice
from kopilka.lifecycle.schemas import WhatIf
from kopilka.lifecycle.service import active_program
from kopilka.lifecycle.whatif import what_if
from kopilka.portals.service import resolve_portal
from kopilka.process.runtime import open_engine
from kopilka.program.model import Program

SinceOpt = Annotated[
    datetime | None,
    typer.Option(
        "--since",
        help="Only deals closed since then (a date is midnight in the program's time zone).",
        formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S"],
    ),
]
CsvOpt = Annotated[bool, typer.Option("--csv", help="One line per contact, as CSV.")]


def _at(moment: datetime | None, program: Program) -> datetime | None:
    if moment is None or moment.tzinfo:
        return moment
    return moment.replace(tzinfo=program.tz)


def summary(report: WhatIf) -> str:
    """The totals of a what-if, in a few lines (``program apply`` shows them too)."""
    scope = f"since {report.since:%Y-%m-%d}" if report.since else "all"
    lines = [
        f"what-if over the recorded won deals ({scope}): {report.deals} deals, "
        f"{report.replayed} replayed, {report.not_replayable} not replayable",
        f"earned {format_points(report.earned)}, would earn {format_points(report.would_earn)} "
        f"({_signed(report.difference)} points)",
        f"customers changing level: {report.level_changes}; "
        f"liability it would add: {_signed(report.liability_added)} points",
    ]
    for c in report.campaigns:
        budget = f", budget {format_points(c.budget)}" if c.budget is not None else ""
        lines.append(
            f"campaign «{c.title}» ({c.campaign}): would cost {format_points(c.would_cost)} "
            f"points on {c.deals} deals (now {format_points(c.cost_now)}{budget})"
        )
    if report.not_replayable:
        lines.append(
            f"{report.not_replayable} deals were settled before what the engine saw was "
            "recorded: `kopilka sync --all` records it"
        )
    return "\n".join(lines)


def _signed(minor: int) -> str:
    return ("+" if minor > 0 else "-" if minor < 0 else "") + format_points(abs(minor))


def _table(report: WhatIf) -> Table:
    table = Table("contact", "name", "deals", "earned", "would earn", "difference", "level")
    for c in report.contacts:
        level = (
            c.level_now or "—"
            if c.level_now == c.level_would
            else f"{c.level_now or '—'} → {c.level_would or '—'}"
        )
        table.add_row(
            str(c.contact_id),
            c.name,
            str(c.deals),
            format_points(c.earned),
            format_points(c.would_earn),
            _signed(c.difference),
            level,
        )
    table.add_section()
    table.add_row(
        "total",
        "",
        str(report.replayed),
        format_points(report.earned),
        format_points(report.would_earn),
        _signed(report.difference),
        f"{report.level_changes} change",
    )
    return table


def _show(report: WhatIf, as_json: bool, as_csv: bool) -> None:
    if as_json:
        print_json(report)
        return
    if as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(
            [
                "contact_id",
                "name",
                "deals",
                "earned",
                "would_earn",
                "difference",
                "level_now",
                "level_would",
            ]
        )
        for c in report.contacts:
            writer.writerow(
                [
                    c.contact_id,
                    c.name,
                    c.deals,
                    c.earned,
                    c.would_earn,
                    c.difference,
                    c.level_now or "",
                    c.level_would or "",
                ]
            )
        return
    out.print(_table(report))
    out.print(summary(report))


async def whatif_report(
    conn: AsyncConnection, portal_id: int, candidate: Program, since: datetime | None
) -> WhatIf:
    now = datetime.now(UTC)
    book, in_force = await active_program(conn, portal_id, now)
    found = await what_if(conn, book, in_force, candidate, since=_at(since, candidate), now=now)
    return found.report


def whatif(
    file: Annotated[Path, typer.Argument(help="The candidate program (YAML).", dir_okay=False)],
    since: SinceOpt = None,
    portal: PortalOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Replay FILE over the portal's recorded won deals; write nothing. Per contact: points
    earned, points it would have earned, the difference, the level; then the totals."""
    candidate, _source = load(file)

    async def go() -> WhatIf:
        async with open_engine(get_settings()) as engine, engine.connect() as conn:
            portal_id = await resolve_portal(conn, portal)
            return await whatif_report(conn, portal_id, candidate, since)

    _show(run(go()), as_json, as_csv)


def reprice_command(
    since: Annotated[
        datetime,
        typer.Option(
            "--since",
            help="Re-price deals closed since then (a date: midnight, program's time zone).",
            formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S"],
        ),
    ],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    actor: Annotated[str, typer.Option(help="Who re-prices (recorded).")] = "cli",
    portal: PortalOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-price the won deals closed since --since under the version in force: shows the
    what-if first, then posts only the differences (never overdrawing a customer)."""

    async def look() -> tuple[int, datetime, WhatIf]:
        async with open_engine(get_settings()) as engine, engine.connect() as conn:
            portal_id = await resolve_portal(conn, portal)
            now = datetime.now(UTC)
            _book, program = await active_program(conn, portal_id, now)
            start = _at(since, program)
            assert start is not None
            _b, _p, found = await preview(conn, portal_id, start, now)
        return portal_id, start, found.report

    portal_id, start, report = run(look())
    if not as_json:
        out.print(_table(report))
        out.print(summary(report))
    if not yes and not typer.confirm("Re-price these deals?"):
        raise typer.Exit(1)

    async def go() -> Repriced:
        async with open_engine(get_settings()) as engine:
            return await reprice(engine, portal_id, since=start, now=datetime.now(UTC), actor=actor)

    done = run(go())
    if as_json:
        print_json(
            {
                "preview": report,
                "version": done.version,
                "repriced": done.repriced,
                "posted": done.posted,
                "not_replayable": done.not_replayable,
                "shortfalls": [_short(s) for s in done.shortfalls],
            }
        )
        return
    out.print(
        f"re-priced {len(done.repriced)} deals under version {done.version[:12]}: "
        f"{done.posted} entries posted"
    )
    for s in done.shortfalls:
        out.print(
            f"deal {s.deal_id} left as it was: contact {s.contact_id} would give back "
            f"{format_points(s.needed)} points and has {format_points(s.has)} "
            f"(short by {format_points(s.short)})"
        )


def _short(s: Shortfall) -> dict[str, int]:
    return {
        "deal_id": s.deal_id,
        "contact_id": s.contact_id,
        "needed": s.needed,
        "has": s.has,
        "short": s.short,
    }


def add_commands(app: typer.Typer) -> None:
    app.command("whatif")(whatif)
    app.command("reprice")(reprice_command)
