"""Test-suite plumbing: a real PostgreSQL for every test that needs one, and no internet.

The server is the embedded one (a throw-away data folder per run) or, when
``KOPILKA_TEST_DATABASE_URL`` is set, that server. Migrations run once into a template database;
each test then works inside a transaction that is rolled back (``db`` fixture), or on its own
database cloned from the template when it must commit (``committed_engine``).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.db.embedded import start_embedded, stop_embedded
from kopilka.db.engine import create_engine, normalise_url
from kopilka.db.migrate import upgrade

# KOPILKA_SQL_LOG=file: every distinct statement the tests send (tests/sqllog.py, docs/scale.md).
pytest_plugins = ["tests.sqllog"]

# Unique per run: two runs sharing one server (KOPILKA_TEST_DATABASE_URL) must not drop each
# other's template.
TEMPLATE = f"kopilka_test_template_{uuid.uuid4().hex[:8]}"

# The secrets the tests store are encrypted with a key of this run (docs/security.md), not with
# a key file left in the checkout's var/; the worker processes the tests start inherit it.
os.environ.setdefault("KOPILKA_SECRET_KEYS", Fernet.generate_key().decode())


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection to a non-local address fails the test (zulip's block_internet)."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            if host not in ("127.0.0.1", "::1", "localhost"):
                raise RuntimeError(f"tests must not reach the network (tried {host})")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


def _admin(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_database(server_url: str, name: str, template: str | None = None) -> str:
    with psycopg.connect(_admin(server_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        suffix = f' TEMPLATE "{template}"' if template else ""
        conn.execute(f'CREATE DATABASE "{name}"{suffix}')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(_admin(server_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A URL of the PostgreSQL server the tests use (its maintenance database)."""
    external = os.environ.get("KOPILKA_TEST_DATABASE_URL")
    if external:
        yield normalise_url(external)
        return
    tmp = Path(tempfile.mkdtemp(prefix="kopilka-test-"))
    os.chmod(tmp, 0o755)  # noqa: S103 - the embedded server may run as its own OS user
    try:
        yield start_embedded(tmp, cleanup="delete")
    finally:
        stop_embedded(tmp)  # stop it before its folder goes, or it would outlive the run
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def template_url(pg_server: str) -> Iterator[str]:
    url = create_database(pg_server, TEMPLATE)
    upgrade(url)
    yield url
    drop_database(pg_server, TEMPLATE)


@pytest.fixture(scope="session")
async def engine(template_url: str, pg_server: str) -> AsyncIterator[AsyncEngine]:
    name = f"kopilka_test_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_server, name, TEMPLATE)
    eng = create_engine(url)
    yield eng
    await eng.dispose()
    drop_database(pg_server, name)


@pytest.fixture
async def db(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection inside a transaction that is rolled back after the test.

    Deferred constraints are made immediate so that the checks a commit would run (a
    transaction that does not net to zero) still run although nothing is committed.
    """
    async with engine.connect() as conn:
        trans = await conn.begin()
        await conn.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
        try:
            yield conn
        finally:
            await trans.rollback()


@pytest.fixture
async def committed_engine(template_url: str, pg_server: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a database of its own, for tests whose transactions must really commit."""
    name = f"kopilka_c_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_server, name, TEMPLATE)
    eng = create_engine(url, pool_size=25, max_overflow=5)
    yield eng
    await eng.dispose()
    drop_database(pg_server, name)
