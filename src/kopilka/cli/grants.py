"""``kopilka grants limits | limit | unlimit``: how much a portal's managers may grant by hand per
period (R-11), the same limits the portal's administrator edits on the app's page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.audit.service import cli_actor
from kopilka.b24app.permissions import PERIODS, Limit, limits, remove_limit, set_limit
from kopilka.cli.common import JsonOpt, PortalOpt, fail, out, print_json, run
from kopilka.config import get_settings
from kopilka.db.engine import run_in_transaction
from kopilka.domain.errors import KopilkaError
from kopilka.domain.money import format_points, to_minor
from kopilka.portals.service import resolve_portal
from kopilka.process.runtime import open_engine

T = TypeVar("T")
grants_app = typer.Typer(no_args_is_help=True, help="Who may grant how many points by hand.")
Who = Annotated[
    str,
    typer.Option("--who", help="'manager' (every manager) or a Bitrix24 user ID (overrides it)."),
]


async def _unit(portal: str | None, work: Callable[[AsyncConnection, int], Awaitable[T]]) -> T:
    async with open_engine(get_settings()) as engine:

        async def unit(conn: AsyncConnection) -> T:
            return await work(conn, await resolve_portal(conn, portal))

        return await run_in_transaction(engine, unit)


def _who(value: str) -> int | None:
    if value == "manager":
        return None
    if not value.isdigit() or int(value) <= 0:
        raise fail("--who is 'manager' or a Bitrix24 user ID (a positive number)")
    return int(value)


@grants_app.command("limits")
def list_limits(portal: PortalOpt = None, as_json: JsonOpt = False) -> None:
    """The portal's limits on manual grants."""

    async def work(conn: AsyncConnection, portal_id: int) -> list[Limit]:
        return await limits(conn, portal_id)

    found = run(_unit(portal, work))
    if as_json:
        print_json(found)
        return
    table = Table("id", "who", "points", "per", "changed by")
    for x in found:
        who = f"user {x.user_id} {x.user_name}".strip() if x.user_id else "every manager"
        table.add_row(str(x.id), who, format_points(x.max_total), x.period, x.updated_by)
    out.print(table if found else "no limits: only the program's limits per reason apply")


@grants_app.command("limit")
def set_(
    who: Who,
    points: Annotated[str, typer.Option("--points", help="At most this many points (0: none).")],
    per: Annotated[str, typer.Option("--per", help=f"The period: {', '.join(PERIODS)}.")] = "month",
    name: Annotated[str, typer.Option("--name", help="The user's name, to show.")] = "",
    portal: PortalOpt = None,
) -> None:
    """Set how many points every manager, or one Bitrix24 user, may grant by hand per period."""
    user_id = _who(who)
    try:
        amount = to_minor(points, allow_zero=True)
    except KopilkaError as exc:
        raise fail(exc.message) from None

    async def work(conn: AsyncConnection, portal_id: int) -> None:
        await set_limit(
            conn,
            portal_id,
            user_id=user_id,
            user_name=name,
            max_total=amount,
            period=per,
            actor=cli_actor(),
            now=datetime.now(UTC),
        )

    run(_unit(portal, work))
    whom = "every manager" if user_id is None else f"user {user_id}"
    out.print(f"{whom}: {format_points(amount)} points a {per}")


@grants_app.command("unlimit")
def unlimit(
    limit_id: Annotated[int, typer.Argument(help="The limit's id (`kopilka grants limits`).")],
    portal: PortalOpt = None,
) -> None:
    """Remove a limit."""

    async def work(conn: AsyncConnection, portal_id: int) -> bool:
        return await remove_limit(conn, portal_id, limit_id, actor=cli_actor())

    if not run(_unit(portal, work)):
        raise fail(f"no limit #{limit_id} in this portal")
    out.print(f"limit #{limit_id} removed")


def register(app: typer.Typer) -> None:
    app.add_typer(grants_app, name="grants")
