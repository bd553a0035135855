"""``kopilka admin user add | list | passwd | disable``: the admin's people from the command line
(issue 18); each change is audited as ``cli:<os user>``."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.admin import users
from kopilka.admin.passwords import hash_password
from kopilka.audit.service import cli_actor
from kopilka.cli.common import JsonOpt, PortalOpt, fail, out, print_json, run
from kopilka.config import get_settings
from kopilka.db.engine import run_in_transaction
from kopilka.domain.errors import KopilkaError
from kopilka.domain.money import format_points, to_minor
from kopilka.portals.service import resolve_portal
from kopilka.process.runtime import open_engine

T = TypeVar("T")
user_app = typer.Typer(no_args_is_help=True, help="People who sign in to the admin.")
StdinOpt = Annotated[
    bool, typer.Option("--stdin", help="Read the password from the first line of standard input.")
]


async def _unit(work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    async with open_engine(get_settings()) as engine:
        return await run_in_transaction(engine, work)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    if len(password) < 10:
        raise fail("the password has at least 10 characters")
    return password


@user_app.command("add")
def add(
    login: Annotated[str, typer.Argument(help="The login: latin letters, digits, . _ @ -")],
    role: Annotated[str, typer.Option("--role", help="owner, manager or viewer.")] = "manager",
    name: Annotated[str, typer.Option("--name", help="The person's name, to show.")] = "",
    limit: Annotated[
        str, typer.Option("--limit", help="Points they may grant by hand per period (none: -).")
    ] = "-",
    per: Annotated[str, typer.Option("--per", help="day, week, month or year.")] = "month",
    portal: PortalOpt = None,
    from_stdin: StdinOpt = False,
) -> None:
    """Add a person allowed one portal in a role; the password is asked twice (or --stdin)."""
    try:
        grant_limit = None if limit == "-" else to_minor(limit, allow_zero=True)
        users.check_login(login)
    except KopilkaError as exc:
        raise fail(exc.message) from None
    hashed = hash_password(_password(from_stdin))

    async def work(conn: AsyncConnection) -> int:
        return await users.add_user(
            conn,
            login=login,
            name=name,
            password_hash=hashed,
            portal_id=await resolve_portal(conn, portal),
            role=role,
            grant_limit=grant_limit,
            grant_period=per,
            actor=cli_actor(),
            now=datetime.now(UTC),
        )

    user_id = run(_unit(work))
    out.print(f"user #{user_id} {users.check_login(login)}: {role}")


@user_app.command("role")
def role_(
    login: Annotated[str, typer.Argument(help="The user's login.")],
    role: Annotated[str, typer.Option("--role", help="owner, manager or viewer.")],
    limit: Annotated[str, typer.Option("--limit", help="Points per period (none: -).")] = "-",
    per: Annotated[str, typer.Option("--per", help="day, week, month or year.")] = "month",
    portal: PortalOpt = None,
) -> None:
    """Allow a user another portal, or change their role and limit in one."""
    try:
        grant_limit = None if limit == "-" else to_minor(limit, allow_zero=True)
    except KopilkaError as exc:
        raise fail(exc.message) from None

    async def work(conn: AsyncConnection) -> None:
        user = await users.user_by_login(conn, login)
        await users.set_membership(
            conn,
            user.id,
            await resolve_portal(conn, portal),
            role=role,
            grant_limit=grant_limit,
            grant_period=per,
            actor=cli_actor(),
        )

    run(_unit(work))
    out.print(f"{login}: {role}")


@user_app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """Every person, their portals and roles."""

    async def work(conn: AsyncConnection) -> list[users.User]:
        return await users.list_users(conn)

    found = run(_unit(work))
    if as_json:
        print_json(found)
        return
    table = Table("id", "login", "name", "portals", "state")
    for u in found:
        where = ", ".join(
            f"{m.member_id}: {m.role}"
            + (
                f" ≤{format_points(m.grant_limit)}/{m.grant_period}"
                if m.grant_limit is not None
                else ""
            )
            for m in u.memberships
        )
        table.add_row(str(u.id), u.login, u.name, where, "disabled" if u.disabled else "active")
    out.print(table if found else "no users: the shared password (if set) signs in as the owner")


@user_app.command("passwd")
def passwd(
    login: Annotated[str, typer.Argument(help="The user's login.")], from_stdin: StdinOpt = False
) -> None:
    """Set a new password (their sessions end, their lockout is lifted)."""
    hashed = hash_password(_password(from_stdin))

    async def work(conn: AsyncConnection) -> None:
        user = await users.user_by_login(conn, login)
        await users.set_password(conn, user.id, hashed, actor=cli_actor(), now=datetime.now(UTC))

    run(_unit(work))
    out.print(f"{login}: password changed")


@user_app.command("disable")
def disable(login: Annotated[str, typer.Argument(help="The user's login.")]) -> None:
    """Disable a user and end their sessions."""

    async def work(conn: AsyncConnection) -> None:
        user = await users.user_by_login(conn, login)
        await users.disable_user(conn, user.id, actor=cli_actor(), now=datetime.now(UTC))

    run(_unit(work))
    out.print(f"{login}: disabled")
