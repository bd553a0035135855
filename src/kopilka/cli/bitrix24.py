"""``kopilka connect | provision | sync | serve | web | worker``: the Bitrix24 side."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from kopilka.bitrix24.auth import WebhookAuth
from kopilka.bitrix24.bonuses import contact_ref, grant_on_portal
from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.connections import (
    Connection,
    connect_webhook,
    get_connection,
    is_connected,
    portal_program,
    same_portal,
    set_field_map,
)
from kopilka.bitrix24.daily import JOBS, DailyReport, flush, refresh_all, run_daily
from kopilka.bitrix24.errors import B24Error
from kopilka.bitrix24.limiter import MemoryRateLimiter
from kopilka.bitrix24.offline.queries import delivery_of
from kopilka.bitrix24.provision import provision as provision_portal
from kopilka.bitrix24.service import backfill
from kopilka.bitrix24.sync import SyncReport, sync_portal
from kopilka.cli.common import err, load, out, print_json, run
from kopilka.config import get_settings
from kopilka.db.engine import run_in_transaction
from kopilka.domain.errors import InvalidCommand
from kopilka.ledger.types import Posted
from kopilka.lifecycle.service import apply_program
from kopilka.logs import configure as configure_logs
from kopilka.portals.service import resolve_portal
from kopilka.process.services import Services, open_services
from kopilka.process.serving import serve

PortalRef = Annotated[
    str | None,
    typer.Option("--portal", envvar="KOPILKA_PORTAL", help="Portal id, member_id or domain."),
]
Host = Annotated[str, typer.Option("--host", help="Address to listen on.")]
Port = Annotated[int, typer.Option("--port", help="Port to listen on.")]
Workers = Annotated[int, typer.Option("--concurrency", help="Jobs run at once by this worker.")]
Moment = Annotated[
    datetime | None,
    typer.Option(
        "--now",
        help="Act as of this moment (ISO 8601; default: now).",
        formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"],
    ),
]


def _clock(services: Services, moment: datetime | None) -> None:
    if moment is not None:
        fixed = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        services.now = lambda: fixed


async def _connection(services: Services, ref: str | None) -> Connection:
    """The connected portal ``ref`` names (or the only portal), refused when it is unknown or
    not a Bitrix24 connection."""
    async with services.engine.connect() as conn:
        portal_id = await resolve_portal(conn, ref)
        if not await is_connected(conn, portal_id):
            raise InvalidCommand(
                f"portal {portal_id} is not connected to Bitrix24: `kopilka portal list`"
            )
        return await get_connection(conn, portal_id)


async def prove_webhook(services: Services, url: str) -> dict[str, Any]:
    """The webhook's own ``profile``: the portal answers it only for a working webhook."""
    try:
        auth = WebhookAuth(url)
    except ValueError:
        raise InvalidCommand(
            "the webhook URL must look like https://<portal>/rest/<user_id>/<code>/"
        ) from None
    if services.http is None:
        services.http = httpx.AsyncClient(timeout=services.settings.b24_timeout)
    client = Bitrix24Client(
        auth, limiter=MemoryRateLimiter(), http=services.http, timeout=15.0, max_retries=1
    )
    try:
        profile = await client.call("profile")
    except B24Error as exc:
        raise InvalidCommand(f"the webhook does not work, nothing was stored: {exc}") from None
    return profile if isinstance(profile, dict) else {}


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
                # Proven before anything is stored: a webhook that does not answer leaves no
                # connection behind to be retried every minute.
                profile = await prove_webhook(services, webhook)

                async def store(conn):  # type: ignore[no-untyped-def]
                    known = await same_portal(conn, webhook, event_token, member_id)
                    connection = await connect_webhook(
                        conn, webhook_url=webhook, event_token=event_token, member_id=member_id
                    )
                    applied = await apply_program(
                        conn,
                        connection.portal_id,
                        parsed,
                        source,
                        actor="kopilka connect",
                        now=services.now(),
                    )
                    if known is not None and applied.changed:
                        raise InvalidCommand(
                            f"portal {connection.portal_id} is already connected and runs "
                            f"another program version ({(applied.previous or '')[:12]}): "
                            "change it with `kopilka program apply FILE`; nothing was stored"
                        )
                    return connection, known is not None

                connection: Connection
                connection, known = await run_in_transaction(services.engine, store)
                who = f"{profile.get('NAME', '')} {profile.get('LAST_NAME', '')}".strip()
                out.print(
                    f"{'updated' if known else 'connected'} portal {connection.portal_id} "
                    f"({connection.domain}) as {who}"
                    + (
                        " — it was already connected: one record, webhook and token updated"
                        if known
                        else ""
                    )
                )
                return connection

        run(go())

    @app.command()
    def provision(portal: PortalRef = None) -> None:
        """Create the user fields the program maps (idempotent); in app mode, bind events (to
        the portal's offline queue when its delivery is offline: `kopilka portal events`)."""

        async def go() -> None:
            settings = get_settings()
            async with open_services(settings) as services:
                connection = await _connection(services, portal)
                async with services.engine.connect() as conn:
                    _book, prog = await portal_program(conn, connection)
                    delivery = await delivery_of(conn, connection.portal_id)
                client = services.client_for(connection)
                done = await provision_portal(
                    client,
                    connection,
                    prog,
                    settings.public_url.rstrip("/") + "/b24/events",
                    offline=delivery.mode == "offline",
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
        totals: Annotated[
            bool,
            typer.Option(
                "--totals",
                help="Backfill the whole history, then rewrite every contact's totals and fields.",
            ),
        ] = False,
        chunk: Annotated[
            int, typer.Option("--chunk", min=1, max=1000, hidden=True, help="Deals a round.")
        ] = 500,
    ) -> None:
        """Sync the portal's changed deals now (or, with --all, its whole history: resumed
        where it stopped if it was interrupted)."""

        async def go() -> None:
            async with open_services(get_settings()) as services:
                connection = await _connection(services, portal)
                if totals:
                    report = await _totals(services, connection)
                elif all_deals:
                    with backfill_bar() as bar:
                        task = bar.add_task("deals", total=None)
                        report = await backfill(
                            services,
                            connection,
                            progress=lambda done, total: bar.update(
                                task, completed=done, total=total
                            ),
                            chunk=chunk,
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
    def daily(
        portal: PortalRef = None,
        only: Annotated[
            list[str] | None,
            typer.Option("--only", help=f"Run only these jobs ({', '.join(JOBS)}); repeatable."),
        ] = None,
        force: Annotated[
            bool, typer.Option("--force", help="Run the once-a-day jobs even if they ran today.")
        ] = False,
        now: Moment = None,
        as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    ) -> None:
        """Run the daily jobs now: expiry, the birthday window, every contact's totals."""
        unknown = sorted(set(only or ()) - set(JOBS))
        if unknown:
            raise typer.BadParameter(
                f"unknown job {', '.join(unknown)}: known are {', '.join(JOBS)}",
                param_hint="--only",
            )

        async def go() -> DailyReport:
            async with open_services(get_settings()) as services:
                _clock(services, now)
                connection = await _connection(services, portal)
                return await run_daily(
                    services, connection.portal_id, only=only or JOBS, force=force
                )

        report = run(go())
        if as_json:
            print_json(report.as_dict())
            return
        out.print(_daily_text(report))

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
    if web:
        out.print(f"Kopilka listening on http://{host}:{port}")
    await serve(settings, host=host, port=port, concurrency=concurrency, web=web, worker=worker)


def _daily_text(report: DailyReport) -> str:
    from kopilka.domain.money import format_points

    lines = [f"day {report.day}: ran {', '.join(report.ran) or 'nothing'}"]
    if "expiry" in report.ran:
        lines.append(
            f"expired {format_points(report.expired_points)} points in "
            f"{report.expired_entries} entries"
        )
    if "birthdays" in report.ran:
        lines.append(
            f"birthdays: {report.contacts_read} contacts read, {report.birthdays_on} flags set, "
            f"{report.birthdays_off} cleared"
        )
    if "totals" in report.ran:
        lines.append(
            f"totals: {report.vanished_deals} deleted deals found, "
            f"{report.refreshed_contacts} contacts refreshed"
        )
    lines.append(f"{report.sync.writes} writes to the portal")
    return "\n".join(lines)


def backfill_bar() -> Progress:
    """The backfill's bar: deals done of all, the rate and the time left (ETA)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
    )


async def _totals(services: Services, connection: Connection) -> SyncReport:
    """``sync --totals``: the whole history as ``--all`` reads it, then every contact's fields."""
    with backfill_bar() as bar:
        deals = bar.add_task("deals", total=None)
        report = await backfill(
            services,
            connection,
            progress=lambda done, total: bar.update(deals, completed=done, total=total),
        )
        contacts = bar.add_task("contacts", total=None)
        async with services.engine.connect() as conn:
            book, program = await portal_program(conn, connection)
        await refresh_all(
            services,
            connection,
            book,
            program,
            services.now(),
            progress=lambda done, total: bar.update(contacts, completed=done, total=total),
        )
        final = await flush(services, connection)
    report.writes += final.writes
    return report


def grant_in_portal(
    customer: str,
    *,
    portal: str | None,
    reason: str,
    amount: int | None,
    comment: str | None,
    actor: str,
    key: str,
    now: datetime,
) -> tuple[Posted, bool] | None:
    """``kopilka grant`` for a contact of a connected portal; None when the portal named (or
    the only one) is a local book, not a Bitrix24 connection."""

    async def go() -> tuple[Posted, bool] | None:
        async with open_services(get_settings()) as services:
            async with services.engine.connect() as conn:
                portal_id = await resolve_portal(conn, portal)
                if not await is_connected(conn, portal_id):
                    return None
                connection = await get_connection(conn, portal_id)
            return await grant_on_portal(
                services,
                connection,
                contact_id=contact_ref(customer),
                reason=reason,
                amount=amount,
                actor=actor,
                key=key,
                now=now,
                comment=comment,
            )

    return run(go())
