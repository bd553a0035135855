"""Connecting to PostgreSQL: the URL, the engine, and the one transaction helper.

Every request, job and CLI command opens exactly one unit of work with :func:`transaction`; the
services inside only ``flush``. Serialization failures and deadlocks retry the whole unit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg
from sqlalchemy import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    create_async_engine,
)

from kopilka.config import Settings
from kopilka.db.embedded import start_embedded

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_DATABASE = "kopilka"
RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization_failure, deadlock_detected


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` URLs; use the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if not parsed.drivername.startswith("postgresql"):
        raise ValueError(f"Kopilka needs PostgreSQL, not {parsed.drivername!r}")
    return parsed.render_as_string(hide_password=False)


def safe_url(url: str) -> str:
    """The URL with its password hidden, for logs and messages."""
    return make_url(url).render_as_string(hide_password=True)


def conninfo(url: str) -> str:
    """The URL as psycopg itself takes it (for connections made without SQLAlchemy)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def ensure_database(server_url: str, name: str) -> str:
    """Create database ``name`` on the server if missing; return its URL."""
    url = make_url(server_url)
    with psycopg.connect(conninfo(server_url), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


def resolve_database_url(settings: Settings) -> str:
    """The configured server, or the embedded one started (or joined) now."""
    if settings.database_url:
        return normalise_url(settings.database_url)
    server = start_embedded(settings.data_dir)
    return ensure_database(server, DEFAULT_DATABASE)


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    # No pre-ping (a round trip per checkout): a connection found dead fails its unit of work,
    # which ``run_in_transaction`` then re-runs on a fresh one.
    kwargs.setdefault("pool_recycle", 1800)
    return create_async_engine(normalise_url(url), **kwargs)


#: Unique constraints whose violation means "a concurrent unit did the same thing first": the
#: retried unit then finds that row (an idempotent replay) instead of failing.
RETRY_ON_UNIQUE = {"idempotency_key_unique", "admin_grant_requests_key_unique"}


def is_retryable(exc: BaseException) -> bool:
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:  # the server closed the connection: nothing committed, or
        return True  # it did and the idempotency keys make the re-run a replay
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in RETRYABLE_SQLSTATES:
        return True
    if sqlstate == "23505":  # unique_violation
        diag = getattr(exc.orig, "diag", None)
        return getattr(diag, "constraint_name", None) in RETRY_ON_UNIQUE
    return False


async def run_in_transaction(
    engine: AsyncEngine,
    work: Callable[[AsyncConnection], Awaitable[T]],
    *,
    attempts: int = 5,
) -> T:
    """Run ``work`` in one transaction; commit on success, roll back on error.

    A serialization failure, a deadlock, a lost idempotency race or a dropped connection re-runs
    the whole unit (with a short backoff); any other error propagates after the rollback.
    """
    for attempt in range(1, attempts + 1):
        try:
            async with engine.begin() as conn:
                return await work(conn)
        except DBAPIError as exc:
            if not is_retryable(exc) or attempt == attempts:
                raise
            log.info("transaction retry %d after %s", attempt, type(exc.orig).__name__)
            await asyncio.sleep(0.01 * 2**attempt)
    raise AssertionError("unreachable")


__all__ = [
    "conninfo",
    "create_engine",
    "ensure_database",
    "normalise_url",
    "resolve_database_url",
    "run_in_transaction",
    "safe_url",
]
