"""scripts/system-deps.sh (`make test`, `.ci/run`): on a machine lacking what the tests need it
says what is missing and how to install it where it cannot install, and installs nothing when
nothing is missing. Each run sees a PATH of its own (a folder of links to the real commands,
Chromium left out or put in), so the machine's own Chromium does not hide the missing case;
nothing here ever runs apt-get."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "scripts" / "system-deps.sh"
BASH = shutil.which("bash") or "/bin/bash"


@pytest.fixture
def bindir() -> Iterator[Path]:
    """A PATH folder readable by any user (another user runs the script in one test)."""
    folder = Path(tempfile.mkdtemp(prefix="kopilka-sysdeps-"))
    folder.chmod(0o755)
    os.symlink(sys.executable, folder / "python3")
    make = shutil.which("make")
    assert make is not None, "make runs the tests, so it is here"
    os.symlink(make, folder / "make")
    yield folder
    shutil.rmtree(folder)


def link(folder: Path, name: str, target: str) -> None:
    os.symlink(target, folder / name)


def run(folder: Path, *args: str, as_nobody: bool = False) -> subprocess.CompletedProcess[str]:
    return run_command(folder, [BASH, str(SCRIPT), *args], as_nobody=as_nobody)


def run_command(
    folder: Path, command: list[str], *, as_nobody: bool = False
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": str(folder), "HOME": "/", "LANG": "C.UTF-8"}
    if as_nobody and os.geteuid() == 0:  # root: drop to nobody, as a developer would be
        setpriv = shutil.which("setpriv")
        assert setpriv is not None, "util-linux's setpriv is on every Debian"
        command = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    return subprocess.run(  # noqa: S603 (our script, our arguments)
        command, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_check_names_chromium_when_it_is_missing(bindir: Path) -> None:
    done = run(bindir, "--check")
    assert done.returncode == 1
    assert done.stderr.strip() == "system-deps: missing: chromium"


def test_nothing_missing_means_nothing_to_do(bindir: Path) -> None:
    link(bindir, "chromium", shutil.which("true") or "/bin/true")
    for args in ((), ("--check",)):
        done = run(bindir, *args)
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""


def test_without_root_it_says_what_to_run_and_stops(bindir: Path) -> None:
    link(bindir, "apt-get", shutil.which("apt-get") or "/usr/bin/apt-get")
    # The Python of the venv may live where another user cannot reach it (a home folder): then
    # python3-venv is missing for that user too, and the script must say so as well.
    venv = run_command(bindir, [BASH, "-c", "python3 -c 'import venv, ensurepip'"], as_nobody=True)
    need = "chromium" if venv.returncode == 0 else "python3-venv chromium"
    done = run(bindir, as_nobody=True)
    assert done.returncode == 1
    assert f"system-deps: missing: {need}; installing them needs root" in done.stderr
    assert f"sudo apt-get update && sudo apt-get install -y {need}\n" in done.stderr


def test_without_apt_it_says_so(bindir: Path) -> None:
    done = run(bindir)
    assert done.returncode == 1
    assert "this machine has no apt-get" in done.stderr
    assert "missing: chromium" in done.stderr


def test_make_test_and_ci_run_both_use_it() -> None:
    root = SCRIPT.parents[1]
    makefile = (root / "Makefile").read_text()
    assert "test: system_deps " in makefile
    assert "bash scripts/system-deps.sh" in makefile
    ci = (root / ".ci" / "run").read_text().splitlines()
    assert ci.index("bash scripts/system-deps.sh") < ci.index("make test")
