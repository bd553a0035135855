"""deploy/: the files parse, and every command they run is a `kopilka` command with options it
has (the same commands the tests run), every KOPILKA_* they set is a real setting, and the
pieces point at each other (proxy → service port, trusted proxy → the proxy's address)."""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from kopilka.cli import app
from kopilka.config import Settings

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
SETTINGS = {f"KOPILKA_{name.upper()}" for name in Settings.model_fields}


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def assert_kopilka_command(args: list[str]) -> None:
    """``kopilka ARGS`` names a command and options that exist (parsed, then --help)."""
    result = CliRunner().invoke(app, [*args, "--help"])
    assert result.exit_code == 0, (args, result.output)


def dockerfile_json(instruction: str) -> list[str]:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    (found,) = re.findall(rf"^{instruction} (\[.*\])$", text, flags=re.MULTILINE)
    return list(json.loads(found))


def exec_starts() -> dict[str, list[str]]:
    found = {}
    for unit in UNITS:
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read(unit, encoding="utf-8")
        found[unit.name] = shlex.split(parser["Service"]["ExecStart"])
    return found


def test_the_image_runs_kopilka_commands() -> None:
    assert dockerfile_json("ENTRYPOINT") == ["kopilka"]
    assert_kopilka_command(dockerfile_json("CMD"))
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    uv = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert uv is not None
    assert f"uv=={uv.group(1)}" in text  # the same uv and lock file as `make setup`
    assert "uv sync --frozen --no-dev --no-editable" in text
    assert text.count("FROM python:3.11-") == 2
    assert "USER kopilka" in text


def test_compose_services_run_kopilka_commands_with_real_settings() -> None:
    services = compose()["services"]
    assert {"postgres", "migrate", "kopilka", "worker", "caddy"} <= set(services)
    kopilkas = [s for s in services.values() if s.get("image") == "kopilka:latest"]
    assert len(kopilkas) == 3
    for service in kopilkas:
        assert_kopilka_command(service["command"])
        assert set(service["environment"]) <= SETTINGS
    assert services["migrate"]["command"] == ["db", "upgrade"]
    env_example = (DEPLOY / "kopilka.env.example").read_text(encoding="utf-8")
    named = set(re.findall(r"^#? ?(KOPILKA_\w+)=", env_example, flags=re.MULTILINE))
    assert named
    assert named <= SETTINGS


def test_compose_health_and_wiring() -> None:
    services = compose()["services"]
    web = services["kopilka"]
    port = web["command"][web["command"].index("--port") + 1]
    check = web["healthcheck"]["test"]
    assert f"http://127.0.0.1:{port}/healthz" in " ".join(check)
    assert services["caddy"]["depends_on"]["kopilka"]["condition"] == "service_healthy"
    assert web["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    caddyfile = (DEPLOY / "Caddyfile").read_text(encoding="utf-8")
    assert f"reverse_proxy kopilka:{port}" in caddyfile
    proxy = services["caddy"]["networks"]["internal"]["ipv4_address"]
    assert web["environment"]["KOPILKA_TRUSTED_PROXIES"] == proxy
    assert services["caddy"]["ports"] == ["80:80", "443:443", "443:443/udp"]
    assert "ports" not in web  # only the proxy is published


def test_systemd_units_run_kopilka_commands() -> None:
    starts = exec_starts()
    assert set(starts) == {
        "kopilka.service",
        "kopilka-web.service",
        "kopilka-worker@.service",
        "kopilka-migrate.service",
    }
    for name, argv in starts.items():
        assert argv[0] == "/opt/kopilka/bin/kopilka", name
        assert_kopilka_command(argv[1:])
    assert starts["kopilka.service"][1:4] == ["serve", "--host", "127.0.0.1"]


def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    """`systemd-analyze verify`, with the venv's kopilka in place of /opt/kopilka's."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing on CI (Debian's systemd package)")
        pytest.skip("no systemd-analyze here; CI runs this test")
    kopilka = shutil.which("kopilka") or str(Path(sys.executable).parent / "kopilka")
    assert Path(kopilka).exists()
    names = []
    for unit in UNITS:
        text = unit.read_text(encoding="utf-8").replace("/opt/kopilka/bin/kopilka", kopilka)
        name = unit.name.replace("@.service", "@1.service")
        (tmp_path / unit.name).write_text(text, encoding="utf-8")
        names.append(str(tmp_path / name))
    done = subprocess.run(  # noqa: S603 (our files)
        [analyze, "verify", "--man=no", *names],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
