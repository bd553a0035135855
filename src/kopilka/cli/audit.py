"""``kopilka audit``: the audit log from the command line (issue 18) — who did what, when and
why, newest first, filtered like the admin's page."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.audit.queries import AuditFilter, AuditRow, search
from kopilka.cli.common import JsonOpt, fail, out, print_json, run
from kopilka.config import get_settings
from kopilka.db.engine import run_in_transaction
from kopilka.portals.service import resolve_portal
from kopilka.process.runtime import open_engine


def _day(raw: str, name: str) -> datetime | None:
    if not raw:
        return None
    try:
        return datetime.combine(date.fromisoformat(raw), datetime.min.time(), UTC)
    except ValueError:
        raise fail(f"{name} is a date like 2026-12-01, not {raw!r}") from None


def audit(
    portal: Annotated[
        str | None, typer.Option("--portal", help="One portal (member_id, domain or id).")
    ] = None,
    person: Annotated[str, typer.Option("--person", help="Part of who did it.")] = "",
    action: Annotated[str, typer.Option("--action", help="An action or its prefix: grant.")] = "",
    since: Annotated[str, typer.Option("--since", help="From this day (UTC).")] = "",
    until: Annotated[str, typer.Option("--until", help="To this day, inclusive (UTC).")] = "",
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Who changed what, when and why (every portal unless --portal)."""
    start, end = _day(since, "--since"), _day(until, "--until")

    async def work() -> list[AuditRow]:
        async with open_engine(get_settings()) as engine:

            async def unit(conn: AsyncConnection) -> list[AuditRow]:
                ids = (await resolve_portal(conn, portal),) if portal else ()
                found = AuditFilter(
                    portal_ids=ids,
                    actor=person,
                    action=action,
                    since=start,
                    until=end + timedelta(days=1) if end else None,
                )
                return await search(conn, found, limit=limit)

            return await run_in_transaction(engine, unit)

    rows = run(work())
    if as_json:
        print_json(rows)
        return
    table = Table("when (UTC)", "portal", "who", "what", "details", "why")
    for r in rows:
        said = ", ".join(f"{k}={v}" for k, v in r.details.items())
        table.add_row(
            r.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"), str(r.portal_id or "—"), r.actor,
            f"{r.action} {r.subject}", said, r.reason,
        )  # fmt: skip
    out.print(table if rows else "nothing in the audit log matches")


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)
