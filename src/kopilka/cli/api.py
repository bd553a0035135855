"""``kopilka api-key create|list|revoke`` and ``kopilka admin hash-password``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.admin.passwords import hash_password
from kopilka.api.keys import SCOPES, create_api_key, revoke_api_key
from kopilka.cli.admin_users import user_app
from kopilka.cli.common import PortalOpt, fail, out, run
from kopilka.config import get_settings
from kopilka.db.engine import run_in_transaction
from kopilka.ledger.book import ensure_portal
from kopilka.process.runtime import open_engine

api_key_app = typer.Typer(no_args_is_help=True, help="API keys of the public API (/api/v1).")
admin_app = typer.Typer(no_args_is_help=True, help="The admin pages.")


async def _in_portal(portal: str | None, work):  # type: ignore[no-untyped-def]
    async with open_engine(get_settings()) as engine:

        async def unit(conn: AsyncConnection):  # type: ignore[no-untyped-def]
            portal_id = await ensure_portal(conn, portal or get_settings().default_portal)
            return await work(conn, portal_id)

        return await run_in_transaction(engine, unit)


@api_key_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="Who uses it, e.g. 'till-1' or 'site'.")],
    scope: Annotated[list[str], typer.Option("--scope", help=f"One of: {', '.join(SCOPES)}.")],
    portal: PortalOpt = None,
) -> None:
    """Make a key; its text is shown once, only its hash is kept."""
    unknown = [s for s in scope if s not in SCOPES]
    if unknown:
        raise fail(f"unknown scope {unknown[0]!r} (known: {', '.join(SCOPES)})")
    key = run(_in_portal(portal, lambda conn, pid: create_api_key(conn, pid, name, scope)))
    out.print(key)


@api_key_app.command("list")
def list_keys(portal: PortalOpt = None) -> None:
    async def work(conn: AsyncConnection, portal_id: int) -> list[str]:
        rows = await conn.execute(
            text(
                "SELECT prefix, name, scopes, created_at, revoked_at FROM api_keys "
                "WHERE portal_id = :p ORDER BY id"
            ),
            {"p": portal_id},
        )
        return [
            f"kop_{r.prefix}_…  {r.name}  {','.join(r.scopes)}  "
            f"{'revoked ' + r.revoked_at.isoformat() if r.revoked_at else 'active'}"
            for r in rows
        ]

    for line in run(_in_portal(portal, work)):
        out.print(line)


@api_key_app.command("revoke")
def revoke(
    prefix: Annotated[str, typer.Argument(help="The 8 hex digits after 'kop_'.")],
    portal: PortalOpt = None,
) -> None:
    if not run(_in_portal(portal, lambda conn, pid: revoke_api_key(conn, pid, prefix))):
        raise fail(f"no active key kop_{prefix}_… in this portal", 1)
    out.print(f"revoked kop_{prefix}_…")


@admin_app.command("hash-password")
def hash_pw(
    from_stdin: Annotated[
        bool,
        typer.Option("--stdin", help="Read the password from the first line of standard input."),
    ] = False,
) -> None:
    """Print the value for KOPILKA_ADMIN_PASSWORD_HASH, on one line.

    The password is asked twice without echo, or read from standard input (--stdin); never
    taken from the command line, where it would stay in the shell's history."""
    if from_stdin:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    else:  # the prompts go to stderr: `HASH=$(kopilka admin hash-password)` captures the hash
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    if not password:
        raise fail("the password is empty")
    # Not through rich: captured output would be wrapped at 80 columns.
    sys.stdout.write(hash_password(password) + "\n")


def register(app: typer.Typer) -> None:
    app.add_typer(api_key_app, name="api-key")
    admin_app.add_typer(user_app, name="user")
    app.add_typer(admin_app, name="admin")
