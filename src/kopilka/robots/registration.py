"""Registering Kopilka's robots and activities on a portal (filled in by the robots feature)."""

from __future__ import annotations

from kopilka.bitrix24.client import Bitrix24Client


async def register_robots(client: Bitrix24Client, handler_url: str) -> list[str]:
    """The codes of the robots registered now (none yet)."""
    return []
