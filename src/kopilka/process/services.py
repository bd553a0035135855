"""What a running Kopilka process holds: the engine, one HTTP client, one Bitrix24 client per
portal, and the clock. Created in the web app's lifespan, the worker's start or a CLI command,
never at import time (STYLE 16)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.bitrix24.auth import OAuthAuth, PgTokenStore, WebhookAuth
from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.connections import Connection
from kopilka.bitrix24.health import PortalHealth
from kopilka.bitrix24.limiter import PgRateLimiter
from kopilka.bitrix24.rejections import RejectionBudget
from kopilka.config import Settings
from kopilka.process.runtime import open_engine


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    engine: AsyncEngine
    database_url: str
    settings: Settings
    now: Callable[[], datetime] = utcnow
    http: httpx.AsyncClient | None = None
    _clients: dict[int, tuple[str, Bitrix24Client]] = field(default_factory=dict)
    #: portals that events named lately, by member_id (see bitrix24.events): (until, portal)
    event_portals: dict[str, tuple[float, Connection]] = field(default_factory=dict)
    #: how many rejected /b24 requests may still be recorded (see bitrix24.rejections)
    rejections: RejectionBudget = field(init=False)

    def __post_init__(self) -> None:
        s = self.settings
        self.rejections = RejectionBudget(
            per_source=s.b24_rejections_per_source,
            overall=s.b24_rejections_per_minute,
            kept=s.b24_rejections_kept,
        )

    def client_for(self, connection: Connection) -> Bitrix24Client:
        """The portal's client, shared by every job of this process (one limiter, one token
        refresh at a time)."""
        fingerprint = f"{connection.mode}:{connection.webhook_url}:{connection.client_endpoint}"
        cached = self._clients.get(connection.portal_id)
        if cached and cached[0] == fingerprint:
            return cached[1]
        if self.http is None:
            self.http = httpx.AsyncClient(timeout=self.settings.b24_timeout)
        s = self.settings
        auth: WebhookAuth | OAuthAuth
        if connection.mode == "webhook":
            assert connection.webhook_url is not None
            auth = WebhookAuth(connection.webhook_url)
        else:
            assert connection.client_endpoint is not None
            auth = OAuthAuth(
                client_endpoint=connection.client_endpoint,
                client_id=s.b24_client_id or "",
                client_secret=s.b24_client_secret.get_secret_value() if s.b24_client_secret else "",
                token_url=s.b24_token_url,
                store=PgTokenStore(self.engine, connection.portal_id),
            )
        limiter = PgRateLimiter(
            self.engine, connection.portal_id, interval=s.b24_interval, burst=s.b24_burst
        )
        health = PortalHealth(self.engine, connection.portal_id, lambda: self.now())
        client = Bitrix24Client(
            auth, limiter=limiter, http=self.http, timeout=s.b24_timeout, health=health
        )
        self._clients[connection.portal_id] = (fingerprint, client)
        return client

    async def aclose(self) -> None:
        if self.http is not None:
            await self.http.aclose()
            self.http = None
        self._clients.clear()


@asynccontextmanager
async def open_services(settings: Settings, *, migrate: bool = True) -> AsyncIterator[Services]:
    """The database (embedded or configured, migrated) and everything built on it."""
    async with open_engine(settings, migrate=migrate) as engine:
        url = engine.url.render_as_string(hide_password=False)
        services = Services(engine=engine, database_url=url, settings=settings)
        try:
            yield services
        finally:
            await services.aclose()
