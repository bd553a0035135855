"""Each portal's connection health (``b24_portal_health``): its last successful Bitrix24 call,
its last failed one and the error's class, for ``/healthz`` and ``/metrics`` (issue 16).

A portal whose credentials broke shows there, not only in the logs. The client reports every
call's outcome (:meth:`PortalHealth.ok`, :meth:`PortalHealth.failed`); the row is written when
the state changes and, while all is well, at most every ``OK_EVERY`` seconds. A write that
finds the database gone is skipped: health is a report, never a reason for a call to fail.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.db.tables import b24_connections, b24_portal_health

log = logging.getLogger(__name__)
OK_EVERY = 30.0


@dataclass
class PortalHealth:
    engine: AsyncEngine
    portal_id: int
    now: Callable[[], datetime]
    _failing: str | None = None
    _ok_written: float = float("-inf")

    async def ok(self) -> None:
        if self._failing is None and time.monotonic() - self._ok_written < OK_EVERY:
            return
        self._failing = None
        self._ok_written = time.monotonic()
        await self._write(last_ok_at=self.now())

    async def failed(self, error: BaseException) -> None:
        name = type(error).__name__
        if self._failing == name:
            return
        self._failing = name
        await self._write(last_error_at=self.now(), last_error_class=name)

    async def _write(self, **values: Any) -> None:
        """Upsert the portal's row — only while the portal is connected: a job still running
        when the portal is uninstalled (its credentials purged) records nothing after it."""
        h = b24_portal_health.c
        connected = select(
            b24_connections.c.portal_id,
            *(literal(v, h[k].type).label(k) for k, v in values.items()),
        ).where(b24_connections.c.portal_id == self.portal_id, b24_connections.c.status == "active")
        row = insert(b24_portal_health).from_select(["portal_id", *values], connected)
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    row.on_conflict_do_update(
                        index_elements=["portal_id"], set_={k: row.excluded[k] for k in values}
                    )
                )
        except SQLAlchemyError as exc:
            self._failing, self._ok_written = "?", float("-inf")  # try again next time
            log.info("portal %d health not recorded: %s", self.portal_id, type(exc).__name__)


@dataclass(frozen=True)
class HealthRow:
    portal_id: int
    last_ok_at: datetime | None
    last_error_at: datetime | None
    last_error_class: str | None

    @property
    def healthy(self) -> bool:
        """No call failed yet, or one succeeded since the last failure."""
        if self.last_error_at is None:
            return True
        return self.last_ok_at is not None and self.last_ok_at > self.last_error_at

    def as_dict(self) -> dict[str, Any]:
        def iso(at: datetime | None) -> str | None:
            return at.isoformat() if at else None

        return {
            "portal": self.portal_id,
            "healthy": self.healthy,
            "last_ok_at": iso(self.last_ok_at),
            "last_error_at": iso(self.last_error_at),
            "last_error_class": self.last_error_class,
        }


async def portal_health(conn: AsyncConnection) -> list[HealthRow]:
    """Every active connection's health (a portal never called yet has no times)."""
    h = b24_portal_health
    rows = await conn.execute(
        select(b24_connections.c.portal_id, h.c.last_ok_at, h.c.last_error_at, h.c.last_error_class)
        .select_from(b24_connections.outerjoin(h, h.c.portal_id == b24_connections.c.portal_id))
        .where(b24_connections.c.status == "active")
        .order_by(b24_connections.c.portal_id)
    )
    return [HealthRow(*row) for row in rows]


__all__ = ["HealthRow", "PortalHealth", "portal_health"]
