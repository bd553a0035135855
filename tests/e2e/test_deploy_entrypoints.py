"""The deployment kit's commands, run as its files write them: compose's `migrate` command on an
empty database, then compose's `kopilka` command (address and port made local) answering the
health check that compose and the image run, as a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kopilka.db.migrate import current_revision
from kopilka.process.devstack import free_socket
from kopilka.process.runtime import head_revision
from tests.conftest import create_database, drop_database

pytestmark = pytest.mark.timeout(180)
DEPLOY = Path(__file__).parents[2] / "deploy"


@pytest.fixture
def empty_database(pg_server: str) -> Iterator[str]:
    name = f"kopilka_deploy_{uuid.uuid4().hex[:8]}"
    yield create_database(pg_server, name)
    drop_database(pg_server, name)


def kopilka_env(url: str) -> dict[str, str]:
    return {**os.environ, "KOPILKA_DATABASE_URL": url, "KOPILKA_WORKER_HEARTBEAT": "0.5"}


def test_compose_commands_migrate_then_serve_healthy(empty_database: str) -> None:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))["services"]
    env = kopilka_env(empty_database)
    migrate = subprocess.run(  # noqa: S603 (our CLI)
        [sys.executable, "-m", "kopilka", *services["migrate"]["command"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr
    assert current_revision(empty_database) == head_revision(empty_database)

    sock = free_socket()
    port = str(sock.getsockname()[1])
    sock.close()
    command = list(services["kopilka"]["command"])
    command[command.index("--host") + 1] = "127.0.0.1"
    compose_port = command[command.index("--port") + 1]
    command[command.index("--port") + 1] = port
    check = [
        part.replace(f"127.0.0.1:{compose_port}/", f"127.0.0.1:{port}/")
        for part in services["kopilka"]["healthcheck"]["test"][1:]
    ]
    assert check[0] == "python"
    check[0] = sys.executable
    proc = subprocess.Popen(  # noqa: S603 (our CLI)
        [sys.executable, "-m", "kopilka", *command],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        healthy = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            healthy = subprocess.run(check, capture_output=True, timeout=30, check=False)  # noqa: S603
            if healthy.returncode == 0:
                break
            assert proc.poll() is None, "kopilka serve exited"
            time.sleep(0.3)
        assert healthy is not None
        assert healthy.returncode == 0, healthy.stderr
    finally:
        proc.terminate()
        proc.wait(30)
    # the same check fails once nothing answers: it is a real check
    assert subprocess.run(check, capture_output=True, timeout=30, check=False).returncode != 0  # noqa: S603
