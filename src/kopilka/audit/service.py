"""Recording a person's change: one row in the change's own transaction (never committed here).

``who`` names the person as every surface already does: ``admin:<login>`` in the admin,
``b24:user:<id> <name>`` inside the portal, ``cli`` (with the operating-system user) at the
command line, ``api:<key>:<actor>`` through the API. ``action`` is a dotted word
(``grant.posted``, ``user.created``, ``limit.set``…), ``subject`` what it touched
(``customer:12``, ``user:3``), ``details`` the numbers, ``reason`` the person's own words.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.db.tables import audit_log


async def record(
    conn: AsyncConnection,
    who: str,
    action: str,
    subject: str = "",
    details: Mapping[str, Any] | None = None,
    reason: str = "",
    *,
    portal_id: int | None = None,
    at: datetime | None = None,
) -> int:
    """Append one audit row; its id. Raises on a malformed action (the table's check)."""
    values: dict[str, Any] = {
        "actor": (who or "?")[:300],
        "action": action,
        "subject": subject[:300],
        "details": dict(details or {}),
        "reason": (reason or "")[:2000],
        "portal_id": portal_id,
    }
    if at is not None:
        values["at"] = at
    found = await conn.scalar(insert(audit_log).values(**values).returning(audit_log.c.id))
    assert found is not None
    return int(found)


def cli_actor() -> str:
    """The command line's person: ``cli:<os user>`` (``cli`` when the system does not say)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"
