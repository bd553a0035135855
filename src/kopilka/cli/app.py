"""``kopilka``: check a program, migrate, grant, look up balances and history, expire, explain."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import Progress
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.cli.api import register as register_api
from kopilka.cli.audit import register as register_audit
from kopilka.cli.backup import register as register_backup
from kopilka.cli.bitrix24 import grant_in_portal
from kopilka.cli.bitrix24 import register as register_bitrix24
from kopilka.cli.cards import register as register_cards
from kopilka.cli.common import (
    JsonOpt,
    PortalOpt,
    fail,
    load_reported,
    out,
    print_json,
    run,
    with_book,
)
from kopilka.cli.democmd import register as register_demo
from kopilka.cli.grants import register as register_grants
from kopilka.cli.iiko import register as register_iiko
from kopilka.cli.portals import register as register_portals
from kopilka.cli.programs import register as register_programs
from kopilka.cli.render import balance_table, explain_text, history_table, program_summary
from kopilka.cli.secrets import register as register_secrets
from kopilka.cli.segments import register as register_segments
from kopilka.config import get_settings
from kopilka.db.engine import run_in_transaction, safe_url
from kopilka.domain.errors import KopilkaError
from kopilka.domain.money import format_points, to_minor
from kopilka.ledger.book import ensure_customer
from kopilka.ledger.expiry import due_accounts, expire_due
from kopilka.ledger.grants import grant as grant_bonus
from kopilka.ledger.invariants import CHECKS, Violation, check_invariants
from kopilka.ledger.queries import Explanation, HistoryLine
from kopilka.ledger.queries import balance as read_balance
from kopilka.ledger.queries import explain as read_explain
from kopilka.ledger.queries import history as read_history
from kopilka.ledger.spending import expire_holds
from kopilka.ledger.types import Balance, Book, Posted
from kopilka.lifecycle.queries import activations
from kopilka.lifecycle.service import active_program
from kopilka.portals.service import find_customer, resolve_portal
from kopilka.process.runtime import open_engine, prepare_database
from kopilka.program.errors import ProgramFileError
from kopilka.program.loader import load_program
from kopilka.program.model import Program

app = typer.Typer(
    name="kopilka",
    no_args_is_help=True,
    add_completion=False,
    help="Kopilka: a bonus-points and loyalty engine for Bitrix24.",
)
db_app = typer.Typer(no_args_is_help=True, help="The database.")
customer_app = typer.Typer(no_args_is_help=True, help="Customers.")
app.add_typer(db_app, name="db")
app.add_typer(customer_app, name="customer")


def now_utc() -> datetime:
    return datetime.now(UTC)


NowOpt = Annotated[
    datetime | None,
    typer.Option(
        "--now",
        help="Act as of this moment (ISO 8601; default: now).",
        formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"],
    ),
]


def aware(moment: datetime | None) -> datetime:
    if moment is None:
        return now_utc()
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command()
def check(
    program: Annotated[Path, typer.Argument(help="The program file to check.")],
    as_json: JsonOpt = False,
) -> None:
    """Validate a program file; every problem is reported with its line.

    Errors (exit code 1) stop the file loading; warnings (docs/program-file.md, "What check
    verifies") are shown and the exit code stays 0.
    """
    if as_json:
        try:
            loaded = load_program(program)
        except ProgramFileError as exc:
            print_json({"ok": False, "problems": exc.problems})
            raise typer.Exit(1) from None
        print_json(
            {
                "ok": True,
                "program": loaded.program,
                "hash": loaded.hash,
                "warnings": loaded.warnings,
            }
        )
        return
    loaded, _source = load_reported(program)
    out.print(program_summary(loaded))
    for warning in loaded.warnings:
        out.print(f"[yellow]{escape(str(warning))}[/]", soft_wrap=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (the embedded server is started if needed)."""
    try:
        url = prepare_database(get_settings(), migrate=True)
    except KopilkaError as exc:  # e.g. no key for the stored secrets
        raise fail(f"{exc.message} [{exc.code}]") from None
    out.print(f"database is up to date: {safe_url(url)}")


@customer_app.command("add")
def customer_add(
    external_id: Annotated[str, typer.Argument(help="The customer's id (Bitrix24 contact ID).")],
    name: Annotated[str, typer.Option(help="Full name.")] = "",
    phone: Annotated[str | None, typer.Option(help="Phone number.")] = None,
    portal: PortalOpt = None,
) -> None:
    """Register a customer (the Bitrix24 sync does this by itself)."""

    async def main() -> int:
        async with open_engine(get_settings()) as engine:

            async def unit(conn: AsyncConnection) -> int:
                portal_id = await resolve_portal(conn, portal)
                return await ensure_customer(conn, portal_id, external_id, name=name, phone=phone)

            return await run_in_transaction(engine, unit)

    customer_id = run(main())
    out.print(f"customer {external_id} is #{customer_id}")


@app.command()
def grant(
    customer: Annotated[
        str,
        typer.Argument(help="The customer: its id, or a Bitrix24 contact ID (42 or contact:42)."),
    ],
    reason: Annotated[str, typer.Option(help="A manual bonus reason of the program.")],
    amount: Annotated[str | None, typer.Option(help="Points; default: the reason's.")] = None,
    comment: Annotated[str | None, typer.Option(help="Why: shown in the history.")] = None,
    actor: Annotated[str, typer.Option(help="Who grants.")] = "cli",
    key: Annotated[str | None, typer.Option(help="Idempotency key (retry-safe).")] = None,
    portal: PortalOpt = None,
    now: NowOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Grant a manual bonus (a review, an apology…) within the program's limits.

    In a connected Bitrix24 portal the contact's fields and timeline show it at once."""
    try:  # bad amounts are refused first
        minor = to_minor(amount) if amount is not None else None
    except KopilkaError as exc:
        raise fail(f"{exc.message} [{exc.code}]") from None
    idempotency = key or f"cli:{uuid.uuid4()}"
    in_portal = grant_in_portal(
        customer,
        portal=portal,
        reason=reason,
        amount=minor,
        comment=comment,
        actor=actor,
        key=idempotency,
        now=aware(now),
    )
    if in_portal is not None:
        posted, shown = in_portal
        note = "" if shown else " (the portal was not reached: it follows with the next sync)"
    else:
        posted = run(
            _grant_local(customer, reason, minor, comment, actor, idempotency, portal, aware(now))
        )
        note = ""
    if as_json:
        print_json(posted)
        return
    earned = sum(leg.amount for leg in posted.legs if leg.account_kind == "customer")
    note = (" (replayed: nothing new was written)" if posted.replayed else "") + note
    out.print(f"entry #{posted.id}: +{format_points(earned)} to {customer} — {posted.reason}{note}")


async def _grant_local(
    customer: str,
    reason: str,
    amount: int | None,
    comment: str | None,
    actor: str,
    key: str,
    portal: str | None,
    now: datetime,
) -> Posted:
    async def work(conn: AsyncConnection, book: Book, prog: Program) -> Posted:
        customer_id = await find_customer(conn, book.portal_id, customer)
        return await grant_bonus(
            conn,
            book,
            prog,
            customer_id=customer_id,
            reason=reason,
            amount=amount,
            actor=actor,
            key=key,
            now=now,
            comment=comment,
            source=f"cli grant by {actor}",
        )

    return await with_book(portal, work, now)


@app.command()
def balance(
    customer: Annotated[
        str, typer.Argument(help="The customer: its id, or a Bitrix24 contact ID (42).")
    ],
    portal: PortalOpt = None,
    now: NowOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A customer's balance: available, pending, held, and what expires when."""
    moment = aware(now)

    async def work(conn: AsyncConnection, book: Book, _prog: Program) -> Balance:
        customer_id = await find_customer(conn, book.portal_id, customer)
        return await read_balance(conn, book, customer_id, moment)

    result = run(with_book(portal, work, moment))
    if as_json:
        print_json(result)
    else:
        out.print(balance_table(customer, result, moment))


@app.command()
def history(
    customer: Annotated[
        str, typer.Argument(help="The customer: its id, or a Bitrix24 contact ID (42).")
    ],
    portal: PortalOpt = None,
    limit: Annotated[int, typer.Option(help="How many entries, newest first.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """A customer's ledger history, newest first, with reasons."""

    async def work(conn: AsyncConnection, book: Book, _prog: Program) -> list[HistoryLine]:
        customer_id = await find_customer(conn, book.portal_id, customer)
        return await read_history(conn, book, customer_id, limit=limit)

    lines = run(with_book(portal, work))
    if as_json:
        print_json(lines)
    else:
        out.print(history_table(customer, lines))


@app.command()
def explain(
    entry: Annotated[int, typer.Argument(help="A ledger entry (transaction) number.")],
    portal: PortalOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Why an entry is what it is: reason, actor, source, program version, rule and inputs."""

    async def work(conn: AsyncConnection, book: Book, _prog: Program) -> tuple[Explanation, str]:
        found = await read_explain(conn, book, entry)
        when = [
            f" (in force from {a.active_from:%Y-%m-%d %H:%M}, applied by {a.applied_by})"
            for a in await activations(conn, book.portal_id)
            if a.hash == found.entry.program_hash
        ]
        return found, when[0] if when else ""

    result, applied = run(with_book(portal, work))
    if as_json:
        print_json(result)
    else:
        out.print(explain_text(result, applied))


@app.command()
def expire(
    portal: PortalOpt = None,
    now: NowOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Expire every lot past its date and every hold past its TTL (safe to run any time)."""
    moment = aware(now)

    async def main() -> dict[str, int]:
        async with open_engine(get_settings()) as engine:

            async def accounts(conn: AsyncConnection) -> tuple[Book, list[int]]:
                portal_id = await resolve_portal(conn, portal)
                book, _program = await active_program(conn, portal_id, moment)
                return book, await due_accounts(conn, book, moment)

            book, due = await run_in_transaction(engine, accounts)
            expired = entries = 0
            with Progress(console=out, disable=as_json or not due) as progress:
                task = progress.add_task("expiring points", total=len(due))

                def done(accounts: int, posted: list[Posted]) -> None:
                    nonlocal expired, entries
                    entries += len(posted)
                    expired += sum(
                        leg.amount
                        for p in posted
                        for leg in p.legs
                        if leg.account_kind == "expired"
                    )
                    progress.advance(task, accounts)

                await expire_due(engine, book, due, now=moment, done=done)

            async def holds(conn: AsyncConnection) -> list[Posted]:
                return await expire_holds(conn, book, now=moment)

            released = await run_in_transaction(engine, holds)
            return {
                "accounts": len(due),
                "entries": entries,
                "points": expired,
                "holds_expired": len(released),
            }

    result = run(main())
    if as_json:
        print_json(result)
    else:
        out.print(
            f"expired {format_points(result['points'])} points in {result['entries']} entries "
            f"on {result['accounts']} accounts; {result['holds_expired']} holds expired"
        )


@app.command()
def verify(as_json: JsonOpt = False) -> None:
    """Check the ledger's invariants over the whole database; exit 1 if any is broken."""

    async def main() -> list[Violation]:
        async with open_engine(get_settings()) as engine:
            return await run_in_transaction(engine, check_invariants)

    broken = run(main())
    if as_json:
        print_json({"ok": not broken, "violations": broken})
    elif not broken:
        out.print(f"[green]all {len(CHECKS)} ledger invariants hold[/]")
    else:
        for violation in broken:
            out.print(
                f"[red]broken: {violation.check}[/] — {len(violation.rows)} row(s), "
                f"e.g. {violation.rows[0]}"
            )
    if broken:
        raise typer.Exit(1)


register_bitrix24(app)
register_demo(app)
register_api(app)
register_cards(app)
register_secrets(app)
register_segments(app)
register_iiko(app)
register_programs(app)
register_portals(app)
register_grants(app)
register_audit(app)
register_backup(app)
