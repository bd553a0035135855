"""The embedded PostgreSQL server: started when needed, shared, stopped, never orphaned.

These run real ``kopilka`` processes with ``KOPILKA_DATABASE_URL`` unset and a data folder of
their own, and look at the server's process afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from kopilka.db.embedded import server_pid

HOLDER = """
import sys, time
from kopilka.db.embedded import start_embedded
start_embedded(__import__("pathlib").Path(sys.argv[1]))
print("ready", flush=True)
time.sleep(120)
"""


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="kopilka-embedded-"))
    os.chmod(path, 0o755)  # noqa: S103 - the server may run as its own OS user
    yield path
    pid = server_pid(path)
    if pid:  # never leave a server behind, even when a test fails
        psutil.Process(pid).terminate()
    shutil.rmtree(path, ignore_errors=True)


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOPILKA_")}
    env["KOPILKA_DATA_DIR"] = str(data_dir)
    return env


def kopilka(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "kopilka", *args],
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def holder(data_dir: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", HOLDER, str(data_dir)],
        env=_env(data_dir),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _wait_stopped(data_dir: Path, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server_pid(data_dir) is None:
            return True
        time.sleep(0.1)
    return False


def test_a_command_starts_the_server_and_stops_it_on_exit(data_dir: Path) -> None:
    result = kopilka(data_dir, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert "database is up to date" in result.stdout
    assert _wait_stopped(data_dir), "the embedded server outlived the command"


def test_a_second_process_shares_the_running_server(data_dir: Path) -> None:
    first = holder(data_dir)
    try:
        pid = server_pid(data_dir)
        assert pid is not None
        result = kopilka(data_dir, "db", "upgrade")
        assert result.returncode == 0, result.stderr
        assert server_pid(data_dir) == pid, "the second process must reuse the server"
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=30)
    assert _wait_stopped(data_dir), "the last user's exit must stop the server"


def test_a_killed_process_does_not_leave_the_server_running_forever(data_dir: Path) -> None:
    first = holder(data_dir)
    pid = server_pid(data_dir)
    first.send_signal(signal.SIGKILL)  # no chance to clean up
    first.wait(timeout=30)
    assert server_pid(data_dir) == pid  # still running: nobody could stop it
    # The next Kopilka process forgets the dead user, and stops the server when it leaves.
    result = kopilka(data_dir, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert _wait_stopped(data_dir), "the server was orphaned"
