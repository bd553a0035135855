"""``kopilka admin user add | role | list | passwd | disable``: the admin's people from the command
line (issue 18), each change in the audit log as ``cli:<os user>``."""

from __future__ import annotations

import json

import psycopg

from kopilka.cli.app import app
from tests.e2e.test_cli import TRAVEL, cli_db, kopilka, runner

__all__ = ["cli_db"]


def _with_password(*args: str, password: str = "correct horse") -> tuple[int, str]:  # noqa: S107
    result = runner.invoke(app, [*args, "--stdin"], input=password + "\n")
    return result.exit_code, result.output


def test_people_are_added_listed_changed_and_disabled(cli_db: str) -> None:
    code, output = kopilka("program", "apply", TRAVEL, "--yes")
    assert code == 0, output
    code, output = _with_password(
        "admin", "user", "add", "olga", "--role", "owner", "--name", "Ольга"
    )
    assert code == 0, output
    assert "olga: owner" in output
    code, output = _with_password("admin", "user", "add", "Olga", "--role", "owner")
    assert code == 2
    assert "taken" in output
    code, output = _with_password("admin", "user", "add", "anna", "--role", "boss")
    assert code == 2
    assert "owner, manager, viewer" in output
    code, output = _with_password("admin", "user", "add", "anna", password="short")
    assert code == 2
    assert "10 characters" in output
    code, output = _with_password("admin", "user", "add", "anna", "--limit", "2500")
    assert code == 0, output
    code, output = kopilka("admin", "user", "role", "anna", "--role", "viewer")
    assert code == 0, output
    code, output = _with_password("admin", "user", "passwd", "anna", password="a new password")
    assert code == 0, output
    code, output = kopilka("admin", "user", "disable", "anna")
    assert code == 0, output
    code, output = kopilka("admin", "user", "list", "--json")
    assert code == 0, output
    found = {u["login"]: u for u in json.loads(output)}
    assert found["olga"]["memberships"][0]["role"] == "owner"
    assert found["anna"]["memberships"][0]["role"] == "viewer"
    assert found["anna"]["disabled"] is True
    code, output = kopilka("admin", "user", "disable", "nobody")
    assert code == 2
    assert "no admin user" in output
    plain = cli_db.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain) as conn:
        rows = conn.execute(
            "SELECT actor, action FROM audit_log WHERE action LIKE 'user.%' ORDER BY id"
        ).fetchall()
    assert [a for _, a in rows] == [
        "user.created",
        "user.created",
        "user.role",
        "user.password",
        "user.disabled",
    ]
    assert all(actor.startswith("cli") for actor, _ in rows)

    code, output = kopilka("audit", "--action", "user", "--json")
    assert code == 0, output
    shown = json.loads(output)
    assert [r["action"] for r in shown][:2] == ["user.disabled", "user.password"]
    code, output = kopilka("audit", "--person", "nobody-like-this")
    assert code == 0, output
    assert "nothing in the audit log matches" in output
    code, output = kopilka("audit", "--since", "yesterday")
    assert code == 2, output
