"""Opening the database for a command: the embedded server or the configured one, migrated."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.config import Settings
from kopilka.db import crypto
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
