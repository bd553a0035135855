"""What the end-to-end tests share: a database of its own for the `kopilka` command, the command
itself, a plain call into an emulated portal, and real `kopilka worker` processes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from b24emu import Portal
from kopilka.cli import app
from kopilka.config import get_settings
from tests.conftest import TEMPLATE, create_database, drop_database

TRAVEL = str(Path(__file__).parents[2] / "examples" / "travel-club.yaml")


def kopilka(*args: str) -> tuple[int, str]:
    """Run the `kopilka` command; its exit code and its output with whitespace runs folded."""
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, re.sub(r"\s+", " ", result.output)


def call(portal: Portal, method: str, params: dict[str, Any]) -> Any:
    """A call into the emulated portal (in process, not rate limited) that must succeed."""
    answer = portal.call(method, params)
    assert "error" not in answer, answer
    return answer["result"]


@pytest.fixture
def database(pg_server: str, template_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A migrated database of its own, named in the environment the way `kopilka` reads it."""
    name = f"kopilka_cli_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_server, name, TEMPLATE)
    monkeypatch.setenv("KOPILKA_DATABASE_URL", url)
    monkeypatch.setenv("KOPILKA_B24_INTERVAL", "0.05")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("KOPILKA_PROGRAM", raising=False)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
    drop_database(pg_server, name)


@contextmanager
def worker_process(engine: AsyncEngine, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real `kopilka worker` on ``engine``'s database with fast heartbeats (stalled after 2 s);
    ``env`` adds or overrides settings. Terminated (then killed) when the block ends."""
    environ = {
        **os.environ,
        "KOPILKA_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "KOPILKA_WORKER_HEARTBEAT": "0.5",
        "KOPILKA_WORKER_STALLED_AFTER": "2",
        "KOPILKA_B24_INTERVAL": "0.05",
        **env,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "kopilka", "worker", "--concurrency", "2"],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
