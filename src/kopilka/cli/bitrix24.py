"""``kopilka connect | provision | sync | serve | web | worker``: the Bitrix24 side."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.progress import Progress

from kopilka.bitrix24.connections import (
    Connection,
    attach_program,
    connect_webhook,
    find_by_reference,
    portal_program,
    set_field_map,
)
from kopilka.bitrix24.provision import provision as provision_portal
from kopilka.bitrix24.service import backfill
from kopilka.bitrix24.sync import sync_portal
from kopilka.cli.common import err, load, out, run
from kopilka.config import get_settings
from kopilka.db.engine import run_in_transaction
from kopilka.domain.errors import InvalidCommand
from kopilka.jobs import run_worker
from kopilka.logs import configure as configure_logs
from kopilka.services import Services, open_services
from kopilka.web.app import create_app

PortalRef = Annotated[
    str | None,
    typer.Option("--portal", envvar="KOPILKA_PORTAL", help="Portal id, member_id or domain."),
]
Host = Annotated[str, typer.Option("--host", help="Address to listen on.")]
Port = Annotated[int, typer.Option("--port", help="Port to listen on.")]
Workers = Annotated[int, typer.Option("--concurrency", help="Jobs run at once by this worker.")]


async def _connection(services: Services, ref: str | None) -> Connection:
    async with services.engine.connect() as conn:
        if ref is None:
            from kopilka.bitrix24.connections import active_connections

            found = await active_connections(conn)
            if len(found) != 1:
                raise InvalidCommand("several portals are connected: name one with --portal")
            return found[0]
        return await find_by_reference(conn, ref)


def register(app: typer.Typer) -> None:
    @app.command()
    def connect(
        webhook: Annotated[str, typer.Option("--webhook", help="Incoming webhook URL (calls).")],
        event_token: Annotated[
            str, typer.Option("--event-token", help="The outgoing webhook's application token.")
        ],
        program: Annotated[Path, typer.Option("--program", "-p", help="The program file.")],
        member_id: Annotated[
            str | None, typer.Option("--member-id", help="The portal's member_id, if known.")
        ] = None,
    ) -> None:
        """Connect a portal by incoming webhook (self-hosted) and attach a program."""
        parsed, source = load(program)

        async def go() -> Connection:
            async with open_services(get_settings()) as services:

                async def store(conn):  # type: ignore[no-untyped-def]
                    connection = await connect_webhook(
                        conn, webhook_url=webhook, event_token=event_token, member_id=member_id
                    )
                    await attach_program(conn, connection.portal_id, parsed, source)
                    return connection

                connection: Connection = await run_in_transaction(services.engine, store)
                profile = await services.client_for(connection).call("profile")
                out.print(
                    f"connected portal {connection.portal_id} ({connection.domain}) as "
                    f"{profile.get('NAME', '')} {profile.get('LAST_NAME', '')}".rstrip()
                )
                return connection

        run(go())

    @app.command()
    def provision(portal: PortalRef = None) -> None:
        """Create the user fields the program maps (idempotent); in app mode, bind events."""

        async def go() -> None:
            settings = get_settings()
            async with open_services(settings) as services:
                connection = await _connection(services, portal)
                async with services.engine.connect() as conn:
                    _book, prog = await portal_program(conn, connection)
                client = services.client_for(connection)
                done = await provision_portal(
                    client, connection, prog, settings.public_url.rstrip("/") + "/b24/events"
                )
                await run_in_transaction(
                    services.engine,
                    lambda conn: set_field_map(conn, connection.portal_id, done.field_map),
                )
                out.print(
                    f"created {len(done.created)} fields, {len(done.existing)} already there"
                    + (f", bound {', '.join(done.events_bound)}" if done.events_bound else "")
                )

        run(go())

    @app.command()
    def sync(
        portal: PortalRef = None,
        all_deals: Annotated[
            bool, typer.Option("--all", help="Re-check every deal of the portal (backfill).")
        ] = False,
    ) -> None:
        """Sync the portal's changed deals now (or, with --all, its whole history)."""

        async def go() -> None:
            async with open_services(get_settings()) as services:
                connection = await _connection(services, portal)
                if all_deals:
                    with Progress(console=err) as bar:
                        task = bar.add_task("deals", total=None)
                        report = await backfill(
                            services,
                            connection,
                            progress=lambda done, total: bar.update(
                                task, completed=done, total=total
                            ),
                        )
                else:
                    client = services.client_for(connection)
                    report = await sync_portal(
                        services.engine,
                        client,
                        connection,
                        now=services.now,
                        comments=services.settings.b24_timeline_comments,
                    )
                out.print(
                    f"{report.deals} deals checked, {report.posted} postings, "
                    f"{report.writes} writes to the portal, {len(report.failed)} failed"
                )

        run(go())

    @app.command()
    def serve(host: Host = "127.0.0.1", port: Port = 8000, concurrency: Workers = 2) -> None:
        """Run the web app, a worker and the scheduler in one process."""
        run(_serve(host, port, concurrency, web=True, worker=True))

    @app.command()
    def web(host: Host = "127.0.0.1", port: Port = 8000) -> None:
        """Run the web app only (events, install, health, metrics)."""
        run(_serve(host, port, 0, web=True, worker=False))

    @app.command()
    def worker(concurrency: Workers = 2) -> None:
        """Run a worker (jobs and periodic tasks); any number may run on any number of hosts."""
        run(_serve("", 0, concurrency, web=False, worker=True))


async def _serve(host: str, port: int, concurrency: int, *, web: bool, worker: bool) -> None:
    settings = get_settings()
    configure_logs(settings.log_level)
    async with open_services(settings) as services:
        tasks = []
        if web:
            config = uvicorn.Config(
                create_app(services), host=host, port=port, log_level="warning", lifespan="on"
            )
            tasks.append(asyncio.create_task(uvicorn.Server(config).serve()))
            out.print(f"Kopilka listening on http://{host}:{port}")
        if worker:
            tasks.append(
                asyncio.create_task(
                    run_worker(
                        services,
                        concurrency=concurrency,
                        install_signal_handlers=not web,
                        heartbeat=settings.worker_heartbeat,
                        stalled_after=settings.worker_stalled_after,
                    )
                )
            )
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        for task in done:
            task.result()
