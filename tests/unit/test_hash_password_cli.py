"""``kopilka admin hash-password``: the password comes from a hidden prompt or stdin, never argv,
and the output is exactly one line that KOPILKA_ADMIN_PASSWORD_HASH can take as it is."""

from __future__ import annotations

import os
import pty
import select
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from kopilka.admin.passwords import verify_password
from kopilka.cli import app

PASSWORD = "correct horse — батарейка скрепка"


def _read_until(fd: int, marker: bytes, seen: bytearray, deadline: float) -> None:
    while marker not in seen:
        assert time.monotonic() < deadline, f"no {marker!r} on the terminal: {bytes(seen)!r}"
        if select.select([fd], [], [], 0.5)[0]:
            try:
                seen += os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                return


def _reap(pid: int, deadline: float) -> int:
    """The child's wait status; killed if it has not ended by ``deadline`` (a failed test)."""
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    return os.waitpid(pid, 0)[1]


def test_a_person_at_a_terminal_is_asked_twice_and_stdout_gets_one_line(tmp_path: Path) -> None:
    """A real process on a pseudo-terminal, its stdout redirected to a file the way
    ``HASH=$(kopilka admin hash-password)`` would: the prompts are on the terminal, the typed
    password is not echoed, and the file holds exactly the hash."""
    target = tmp_path / "hash.txt"
    command = f"exec {shlex.quote(sys.executable)} -m kopilka admin hash-password > {target}"
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.execve("/bin/sh", ["/bin/sh", "-c", command], env)  # noqa: S606 (a shell)
    seen = bytearray()
    deadline = time.monotonic() + 30
    try:
        # getpass turns echo off, then writes the blank after the prompt: type only then
        _read_until(fd, b"Password: ", seen, deadline)
        os.write(fd, PASSWORD.encode() + b"\n")
        _read_until(fd, b"Repeat for confirmation: ", seen, deadline)
        os.write(fd, PASSWORD.encode() + b"\n")
        _read_until(fd, b"\x00never", seen, deadline)  # to the end of the output
    finally:
        status = _reap(pid, deadline)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, bytes(seen)
    assert PASSWORD.encode() not in seen  # hidden input is not echoed
    out = target.read_text()
    assert out.count("\n") == 1, repr(out)
    assert out.endswith("\n")
    assert len(out) > 81
    assert verify_password(PASSWORD, out.removesuffix("\n"))


def test_two_different_entries_are_asked_again() -> None:
    result = CliRunner().invoke(app, ["admin", "hash-password"], input="one\ntwo\nthree\nthree\n")
    assert result.exit_code == 0, result.output
    assert "do not match" in result.stderr
    line = result.stdout.split()[-1]  # CliRunner echoes a blank for each hidden prompt
    assert verify_password("three", line)
    assert not verify_password("one", line)


def test_stdin_in_a_real_process_gives_one_unwrapped_line() -> None:
    """Captured by a pipe, at the default 80 columns: the ~100-character hash stays one line."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    done = subprocess.run(
        [sys.executable, "-m", "kopilka", "admin", "hash-password", "--stdin"],
        input=f"{PASSWORD}\n".encode(),
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode()
    assert out.endswith("\n")
    assert out.count("\n") == 1, repr(out)
    value = out.removesuffix("\n")
    assert len(value) > 80
    assert verify_password(PASSWORD, value)
    assert done.stderr == b""


def test_stdin_keeps_spaces_and_drops_only_the_line_end() -> None:
    result = CliRunner().invoke(app, ["admin", "hash-password", "--stdin"], input=" pw \r\n")
    assert result.exit_code == 0, result.output
    assert verify_password(" pw ", result.stdout.strip())


def test_the_password_is_never_taken_from_argv() -> None:
    result = CliRunner().invoke(app, ["admin", "hash-password", "--password", PASSWORD])
    assert result.exit_code == 2
    assert "No such option" in result.output
    assert result.stdout == ""


def test_an_empty_password_is_refused() -> None:
    result = CliRunner().invoke(app, ["admin", "hash-password", "--stdin"], input="\n")
    assert result.exit_code == 2
    assert "the password is empty" in result.stderr
    assert result.stdout == ""
