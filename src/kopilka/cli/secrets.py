"""``kopilka secrets rotate|new-key``: the keys of the secrets stored in the database."""

from __future__ import annotations

import typer
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.cli.common import out, run
from kopilka.config import get_settings
from kopilka.db import crypto
from kopilka.db.engine import run_in_transaction
from kopilka.db.rotation import rotate_secrets
from kopilka.process.runtime import open_engine

secrets_app = typer.Typer(
    no_args_is_help=True,
    help=f"The keys ({crypto.SETTING}) that encrypt the secrets stored in the database.",
)


@secrets_app.command("new-key")
def new_key() -> None:
    """Print a fresh key, to put first in KOPILKA_SECRET_KEYS."""
    out.print(crypto.new_key())


@secrets_app.command("rotate")
def rotate() -> None:
    """Re-encrypt every stored secret with the first key, in one transaction.

    Put the new key first in KOPILKA_SECRET_KEYS and keep the old ones after it; when this has
    run, the old keys may be removed."""

    async def go() -> int:
        async with open_engine(get_settings()) as engine:
            keyring = crypto.current()

            async def unit(conn: AsyncConnection) -> int:
                return await rotate_secrets(conn, keyring)

            return await run_in_transaction(engine, unit)

    rewritten = run(go())
    out.print(f"re-encrypted {rewritten} secret value(s) with the first key")


def register(app: typer.Typer) -> None:
    app.add_typer(secrets_app, name="secrets")
