"""Opening the database for a command: the embedded server or the configured one, migrated;
and, for long-running processes, keeping the embedded server alive (:func:`watch_embedded`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.config import Settings
from kopilka.db import crypto
from kopilka.db.embedded import restart_embedded, stop_embedded
from kopilka.db.engine import create_engine, resolve_database_url
from kopilka.db.migrate import alembic_config, current_revision, upgrade
from kopilka.domain.errors import KopilkaError


class SchemaOutdated(KopilkaError):
    code = "schema_outdated"


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def prepare_database(settings: Settings, *, migrate: bool) -> str:
    """Start or find the server; apply migrations (``migrate``) or insist they were applied.
    First the keys of the stored secrets are loaded: without them (production) nothing starts."""
    crypto.configure(settings)
    url = resolve_database_url(settings)
    if migrate:
        upgrade(url)
        return url
    current, head = current_revision(url), head_revision(url)
    if current != head:
        raise SchemaOutdated(
            f"the database schema is at revision {current or 'none'} but Kopilka needs {head}: "
            "run `kopilka db upgrade` first"
        )
    return url


@asynccontextmanager
async def open_engine(settings: Settings, *, migrate: bool = False) -> AsyncIterator[AsyncEngine]:
    url = await asyncio.to_thread(prepare_database, settings, migrate=migrate)
    engine = create_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()


log = logging.getLogger(__name__)


async def watch_embedded(settings: Settings) -> None:
    """Until cancelled: every ``embedded_check_interval`` seconds, start the embedded server
    again if it died (issue 16). A start that fails (the old server's processes still leaving)
    is tried again at the next check."""
    while True:
        await asyncio.sleep(settings.embedded_check_interval)
        try:
            await asyncio.to_thread(restart_embedded, settings.data_dir)
        except Exception as exc:
            log.warning("the embedded server did not start again: %s", exc)


def leave_embedded(settings: Settings) -> None:
    """Stop the embedded server now if this process was its last user (SIGTERM, issue 16)."""
    if not settings.database_url:
        stop_embedded(settings.data_dir)
