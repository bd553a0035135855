"""``kopilka backup FILE`` and ``kopilka restore FILE``: the whole database, with pg_dump."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kopilka.cli.common import fail, out
from kopilka.config import get_settings
from kopilka.db import backup as dumps
from kopilka.db.engine import resolve_database_url, safe_url
from kopilka.db.migrate import current_revision
from kopilka.domain.errors import KopilkaError
from kopilka.process.runtime import head_revision


def _url() -> tuple[str, bool]:
    settings = get_settings()
    try:
        return resolve_database_url(settings), settings.database_url is not None
    except Exception as exc:  # the embedded server did not start, a bad URL
        raise fail(f"no database: {exc}") from None


def backup(
    file: Annotated[Path, typer.Argument(help="Where to write the backup (pg_dump's format).")],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Back up the whole database (ledger, portals, jobs, outbox) into one file.

    Safe while Kopilka runs: the dump is one consistent snapshot. The stored secrets stay
    encrypted: keep KOPILKA_SECRET_KEYS (or data_dir/secret.key) apart from the backups."""
    url, external = _url()
    try:
        tool = dumps.backup(url, file, external=external, overwrite=force)
    except KopilkaError as exc:
        raise fail(f"{exc.message} [{exc.code}]") from None
    size = file.stat().st_size
    out.print(f"backed up {safe_url(url)} to {file} ({size:,} bytes, {tool})", soft_wrap=True)


def restore(
    file: Annotated[Path, typer.Argument(help="A file written by `kopilka backup`.")],
) -> None:
    """Restore a backup into an empty database, in one transaction (all or nothing).

    Then run `kopilka db upgrade` if the backup comes from an older Kopilka, and `kopilka
    verify`. Stored secrets need the keys they were encrypted with."""
    url, external = _url()
    try:
        tool = dumps.restore(url, file, external=external)
    except KopilkaError as exc:
        raise fail(f"{exc.message} [{exc.code}]") from None
    out.print(f"restored {file} into {safe_url(url)} ({tool})", soft_wrap=True)
    current, head = current_revision(url), head_revision(url)
    if current != head:
        out.print(
            f"the schema is at revision {current or 'none'}, this Kopilka needs {head}: "
            "run `kopilka db upgrade`",
            soft_wrap=True,
        )


def register(app: typer.Typer) -> None:
    app.command()(backup)
    app.command()(restore)
