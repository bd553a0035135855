"""Registering Kopilka's robots and activities in a portal (app context only: reference §11.1).

Idempotent: everything is added in one batch, and what the portal already has
(``ERROR_ACTIVITY_ALREADY_INSTALLED``) is updated in a second, so a re-install or a new
``KOPILKA_PUBLIC_URL`` points every robot at the current handler with the current parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.errors import B24BatchError
from kopilka.robots.schemas import ACTIONS

ALREADY = "ERROR_ACTIVITY_ALREADY_INSTALLED"


def _commands(handler_url: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """key -> (the kind's add method, its fields with ``CODE``)."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for action in ACTIONS:
        for kind, code, robot in (
            ("robot", action.robot_code, True),
            ("activity", action.activity_code, False),
        ):
            out[code] = (kind, {"CODE": code, **action.fields(handler_url, robot=robot)})
    return out


async def register_robots(client: Bitrix24Client, handler_url: str) -> list[str]:
    """Add (or update) every robot and activity; the codes, robots first."""
    wanted = _commands(handler_url)
    adds: Mapping[str, tuple[str, Mapping[str, Any]]] = {
        code: (f"bizproc.{kind}.add", fields) for code, (kind, fields) in wanted.items()
    }
    try:
        await client.batch(adds, write=True)
    except B24BatchError as exc:
        refused = {k: e for k, e in exc.errors.items() if e.b24_error != ALREADY}
        if refused or exc.not_run:
            raise
        updates: Mapping[str, tuple[str, Mapping[str, Any]]] = {
            code: (
                f"bizproc.{wanted[code][0]}.update",
                {"CODE": code, "FIELDS": {k: v for k, v in wanted[code][1].items() if k != "CODE"}},
            )
            for code in exc.errors
        }
        await client.batch(updates, write=True)
    return sorted(wanted, key=lambda code: (wanted[code][0] != "robot", code))
