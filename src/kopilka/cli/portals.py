"""``kopilka portal list | show | rename | disconnect | events``: the portals Kopilka serves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.audit.service import cli_actor, record
from kopilka.bitrix24.connections import get_connection, portal_program
from kopilka.bitrix24.offline.delivery import DeliveryChange, set_delivery
from kopilka.cli.common import JsonOpt, PortalOpt, out, print_json, run
from kopilka.config import get_settings
from kopilka.db.engine import run_in_transaction
from kopilka.portals.service import (
    PortalView,
    disconnect_portal,
    list_portals,
    rename_portal,
    resolve_portal,
)
from kopilka.process.runtime import open_engine
from kopilka.process.services import open_services

T = TypeVar("T")
portal_app = typer.Typer(no_args_is_help=True, help="The portals (tenants) Kopilka serves.")
Ref = Annotated[str, typer.Argument(help="The portal: its id, member_id or domain.")]


async def _in_transaction(work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    async with open_engine(get_settings()) as engine:
        return await run_in_transaction(engine, work)


@portal_app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """Every portal: id, Bitrix24 domain, connection, program, customers."""

    async def work(conn: AsyncConnection) -> list[PortalView]:
        return await list_portals(conn)

    found = run(_in_transaction(work))
    if as_json:
        print_json(found)
        return
    table = Table("id", "domain", "member_id", "title", "connection", "program", "customers")
    for p in found:
        connection = f"{p.mode} ({p.status})" if p.mode else "local book"
        table.add_row(
            str(p.id),
            p.domain or "—",
            p.member_id,
            p.title,
            connection,
            p.program or "—",
            str(p.customers),
        )
    out.print(table if found else "no portal yet: `kopilka connect` or `kopilka program apply`")


@portal_app.command("show")
def show(portal: Ref, as_json: JsonOpt = False) -> None:
    """One portal."""

    async def work(conn: AsyncConnection) -> PortalView:
        return (await list_portals(conn, await resolve_portal(conn, portal)))[0]

    found = run(_in_transaction(work))
    if as_json:
        print_json(found)
        return
    for name in PortalView.__dataclass_fields__:
        out.print(f"{name}: {getattr(found, name)}")


@portal_app.command("rename")
def rename(portal: Ref, title: Annotated[str, typer.Argument(help="The new title.")]) -> None:
    """Give a portal a title of your own (its member_id and domain stay)."""

    async def work(conn: AsyncConnection) -> int:
        portal_id = await resolve_portal(conn, portal)
        await rename_portal(conn, portal_id, title)
        await record(
            conn,
            cli_actor(),
            "portal.renamed",
            f"portal:{portal_id}",
            {"title": title},
            portal_id=portal_id,
        )
        return portal_id

    out.print(f"portal {run(_in_transaction(work))} is now titled {title!r}")


@portal_app.command("disconnect")
def disconnect(
    portal: Ref,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Stop serving a portal's Bitrix24 connection (credentials erased, no more sync or events).
    Its customers, points and history are kept; `kopilka connect` resumes it."""
    if not yes and not typer.confirm(f"Disconnect portal {portal}?"):
        raise typer.Exit(1)

    async def work(conn: AsyncConnection) -> tuple[int, bool]:
        portal_id = await resolve_portal(conn, portal)
        done = await disconnect_portal(conn, portal_id)
        await record(
            conn,
            cli_actor(),
            "portal.disconnected",
            f"portal:{portal_id}",
            {"was_active": done},
            portal_id=portal_id,
        )
        return portal_id, done

    portal_id, done = run(_in_transaction(work))
    out.print(
        f"portal {portal_id} disconnected: its book is kept"
        if done
        else f"portal {portal_id} had no active Bitrix24 connection: nothing to do"
    )


@portal_app.command("events")
def events(
    mode: Annotated[str, typer.Argument(help="online (the portal POSTs them) or offline.")],
    portal: PortalOpt = None,
) -> None:
    """How the portal's events reach Kopilka: `online` (Bitrix24 POSTs each to
    KOPILKA_PUBLIC_URL/b24/events) or `offline` (kept in the portal's queue and read by the
    worker: for a server Bitrix24 cannot reach). Offline needs Kopilka installed as an app."""
    if mode not in ("online", "offline"):
        raise typer.BadParameter("online or offline", param_hint="MODE")

    async def go() -> DeliveryChange:
        settings = get_settings()
        async with open_services(settings) as services:

            async def work(conn: AsyncConnection) -> DeliveryChange:
                connection = await get_connection(conn, await resolve_portal(conn, portal))
                _book, program = await portal_program(conn, connection)
                return await set_delivery(
                    conn,
                    services.client_for(connection),
                    connection,
                    program,
                    mode,
                    settings.public_url.rstrip("/") + "/b24/events",
                    now=services.now(),
                    signal_seconds=settings.b24_offline_signal_seconds,
                )

            return await run_in_transaction(services.engine, work)

    change = run(go())
    out.print(
        f"portal {change.portal_id}: events {change.mode}"
        + (f" (was {change.previous})" if change.previous != change.mode else " (unchanged)")
        + (f"; {', '.join(change.calls)}" if change.calls else "")
    )


def register(app: typer.Typer) -> None:
    app.add_typer(portal_app, name="portal")
