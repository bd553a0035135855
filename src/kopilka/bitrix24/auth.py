"""How a call proves who it is: an incoming webhook, or an OAuth application's tokens.

An OAuth access token lives an hour; refreshing it also *rotates* the refresh token (the old one
stops working, reference §1.2.3). Two refreshes racing with the same refresh token would leave
one of them holding a dead grant, so a refresh happens once for all concurrent callers:

* in one process an :class:`asyncio.Lock` serialises refreshes, and a caller that finds the token
  version moved since it read it takes the new tokens instead of refreshing again;
* across processes :class:`PgTokenStore` refreshes under ``SELECT … FOR UPDATE`` of the portal's
  ``b24_connections`` row; a process that finds ``token_version`` moved uses the tokens another
  process already stored and never calls the token endpoint.

Tokens are refreshed proactively when they are within ``refresh_margin`` seconds of expiry and
reactively after a 401 ``expired_token``. Expiry is measured against the monotonic clock from the
seconds remaining at load time (computed by the database for :class:`PgTokenStore`), so a skewed
local clock neither refreshes on every call nor misses the expiry.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.bitrix24.errors import (
    B24AuthError,
    B24ServerError,
    B24TransportError,
    from_envelope,
)
from kopilka.db.crypto import EncryptedText

DEFAULT_TOKEN_URL = "https://oauth.bitrix.info/oauth/token/"  # noqa: S105 - a URL
#: how errors of the token endpoint name their "method"
TOKEN_METHOD = "oauth.token"  # noqa: S105 - not a secret


@dataclass(frozen=True)
class Prepared:
    """Where to send one call and what to add to its body."""

    url: str
    params: dict[str, Any] = field(repr=False)
    version: int


@dataclass(frozen=True)
class Grant:
    """What the token endpoint answered."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: float


@dataclass(frozen=True)
class Tokens:
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    version: int
    deadline: float  # time.monotonic() at which the access token expires

    @classmethod
    def from_remaining(cls, access: str, refresh: str, version: int, remaining: float) -> Tokens:
        return cls(access, refresh, version, time.monotonic() + remaining)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


GrantFn = Callable[[str], Awaitable[Grant]]


class TokenStore(Protocol):
    async def load(self) -> Tokens: ...

    async def rotate(self, stale_version: int, grant: GrantFn) -> tuple[Tokens, bool]:
        """New tokens if ``stale_version`` is still current (calling ``grant`` with the refresh
        token, exactly once across all callers), else the tokens someone stored meanwhile.
        Returns the tokens and whether ``grant`` was called."""
        ...


class MemoryTokenStore:
    def __init__(self, access_token: str, refresh_token: str, expires_in: float = 3600.0):
        self._tokens = Tokens.from_remaining(access_token, refresh_token, 1, expires_in)
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"MemoryTokenStore(version={self._tokens.version})"

    async def load(self) -> Tokens:
        return self._tokens

    async def rotate(self, stale_version: int, grant: GrantFn) -> tuple[Tokens, bool]:
        async with self._lock:
            if self._tokens.version != stale_version:
                return self._tokens, False
            new = await grant(self._tokens.refresh_token)
            self._tokens = Tokens.from_remaining(
                new.access_token, new.refresh_token, stale_version + 1, new.expires_in
            )
            return self._tokens, True


# The tokens are stored encrypted (kopilka.db.crypto): these statements bind and read them
# through the same EncryptedText type as the table description, so they hold only ciphertext.
_SELECT = """
SELECT access_token, refresh_token, token_version,
       COALESCE(EXTRACT(EPOCH FROM token_expires_at - now()), 0)::float8 AS remaining
FROM b24_connections WHERE portal_id = :portal_id
"""
_COLUMNS = {"access_token": EncryptedText(), "refresh_token": EncryptedText()}
_LOAD = text(_SELECT).columns(**_COLUMNS)
_LOCK = text(_SELECT + " FOR UPDATE").columns(**_COLUMNS)
_UPDATE = text("""
UPDATE b24_connections SET access_token = :access, refresh_token = :refresh,
    token_expires_at = now() + make_interval(secs => :expires_in),
    token_version = token_version + 1
WHERE portal_id = :portal_id
RETURNING token_version
""").bindparams(
    bindparam("access", type_=EncryptedText()), bindparam("refresh", type_=EncryptedText())
)


class PgTokenStore:
    """The portal's tokens in its ``b24_connections`` row, shared by every process."""

    def __init__(self, engine: AsyncEngine, portal_id: int) -> None:
        self.engine = engine
        self.portal_id = portal_id

    def __repr__(self) -> str:
        return f"PgTokenStore(portal_id={self.portal_id})"

    def _tokens(self, row: Any) -> Tokens:
        if row is None or not row.refresh_token:
            raise B24AuthError(f"portal {self.portal_id} has no stored OAuth tokens")
        return Tokens.from_remaining(
            row.access_token or "", row.refresh_token, row.token_version, row.remaining
        )

    async def load(self) -> Tokens:
        async with self.engine.connect() as conn:
            row = (await conn.execute(_LOAD, {"portal_id": self.portal_id})).first()
        return self._tokens(row)

    async def rotate(self, stale_version: int, grant: GrantFn) -> tuple[Tokens, bool]:
        # The token endpoint is called with the row locked: that lock *is* the cross-process
        # "refresh once". The transaction touches this one row and lasts one HTTP round trip.
        # Not run_in_transaction: re-running after the endpoint answered would spend the old,
        # already rotated refresh token.
        async with self.engine.begin() as conn:
            row = (await conn.execute(_LOCK, {"portal_id": self.portal_id})).first()
            current = self._tokens(row)
            if current.version != stale_version:
                return current, False
            new = await grant(current.refresh_token)
            version = (
                await conn.execute(
                    _UPDATE,
                    {
                        "portal_id": self.portal_id,
                        "access": new.access_token,
                        "refresh": new.refresh_token,
                        "expires_in": new.expires_in,
                    },
                )
            ).scalar_one()
        return Tokens.from_remaining(
            new.access_token, new.refresh_token, version, new.expires_in
        ), True


class Auth(Protocol):
    """What the client needs from an authentication mode."""

    domain: str
    refreshes: int  # token-endpoint calls made

    def secrets(self) -> tuple[str, ...]: ...

    async def prepare(self, method: str, http: httpx.AsyncClient) -> Prepared: ...

    async def refresh(self, stale_version: int, http: httpx.AsyncClient) -> bool:
        """After ``expired_token``: make fresh tokens current; True if the endpoint was called."""
        ...

    async def reload(self, stale_version: int) -> bool:
        """After an auth refusal: True if another process has stored newer tokens meanwhile."""
        ...


_WEBHOOK = re.compile(r"^(https?://[^/]+(?:/[^/]+)*?/rest/)(\d+)/([^/?#]+)/?$")


class WebhookAuth:
    """An incoming webhook: ``http(s)://{portal}/rest/{user_id}/{code}/``."""

    def __init__(self, url: str) -> None:
        match = _WEBHOOK.match(url.strip())
        if match is None:
            raise ValueError("a webhook URL looks like https://<portal>/rest/<user_id>/<code>/")
        self._base = f"{match[1]}{match[2]}/{match[3]}/"
        self._code = match[3]
        self.user_id = int(match[2])
        self.domain = urlsplit(url).netloc
        self.refreshes = 0  # a webhook never refreshes

    def __repr__(self) -> str:
        return f"WebhookAuth(domain={self.domain!r}, user_id={self.user_id})"

    def secrets(self) -> tuple[str, ...]:
        return (self._code,)

    async def prepare(self, method: str, http: httpx.AsyncClient) -> Prepared:
        return Prepared(f"{self._base}{method}.json", {}, 0)

    async def refresh(self, stale_version: int, http: httpx.AsyncClient) -> bool:
        return False

    async def reload(self, stale_version: int) -> bool:
        return False


class OAuthAuth:
    """An OAuth application's tokens for one portal, refreshed once for all concurrent callers."""

    def __init__(
        self,
        client_endpoint: str,
        client_id: str,
        client_secret: str,
        store: TokenStore,
        *,
        token_url: str = DEFAULT_TOKEN_URL,
        refresh_margin: float = 60.0,
    ) -> None:
        self.client_endpoint = (
            client_endpoint if client_endpoint.endswith("/") else client_endpoint + "/"
        )
        self.client_id = client_id
        self._client_secret = client_secret
        self.store = store
        self.token_url = token_url
        self.refresh_margin = refresh_margin
        self.domain = urlsplit(self.client_endpoint).netloc
        self.refreshes = 0  # token endpoint calls made by this instance
        self._tokens: Tokens | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"OAuthAuth(domain={self.domain!r}, client_id={self.client_id!r})"

    def secrets(self) -> tuple[str, ...]:
        tokens = self._tokens
        known = (tokens.access_token, tokens.refresh_token) if tokens else ()
        return (self._client_secret, *known)

    async def tokens(self) -> Tokens:
        if self._tokens is None:
            async with self._lock:
                if self._tokens is None:
                    self._tokens = await self.store.load()
        return self._tokens

    async def prepare(self, method: str, http: httpx.AsyncClient) -> Prepared:
        tokens = await self.tokens()
        if tokens.remaining() < self.refresh_margin:
            await self.refresh(tokens.version, http)
            tokens = await self.tokens()
        return Prepared(
            f"{self.client_endpoint}{method}.json", {"auth": tokens.access_token}, tokens.version
        )

    async def refresh(self, stale_version: int, http: httpx.AsyncClient) -> bool:
        async with self._lock:
            if self._tokens is not None and self._tokens.version != stale_version:
                return False  # someone in this process refreshed since the caller read
            tokens, called = await self.store.rotate(stale_version, lambda r: self._grant(r, http))
            self._tokens = tokens
            self.refreshes += called
            return called

    async def reload(self, stale_version: int) -> bool:
        async with self._lock:
            tokens = await self.store.load()
            self._tokens = tokens
            return tokens.version != stale_version

    async def _grant(self, refresh_token: str, http: httpx.AsyncClient) -> Grant:
        params = {
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "refresh_token": refresh_token,
        }
        secrets = (self._client_secret, refresh_token)
        try:
            response = await http.get(self.token_url, params=params)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise B24TransportError(
                f"{TOKEN_METHOD}: {type(exc).__name__}", may_have_run=False, method=TOKEN_METHOD
            ) from None
        except httpx.HTTPError as exc:
            # The endpoint may have rotated the grant and the answer is lost: nothing to retry.
            raise B24TransportError(
                f"{TOKEN_METHOD}: {type(exc).__name__}", may_have_run=True, method=TOKEN_METHOD
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "error" in body:
            status = response.status_code if response.status_code != 200 else 400
            raise from_envelope(status, body, TOKEN_METHOD, secrets=secrets)
        if response.status_code != 200 or not isinstance(body, dict):
            raise from_envelope(response.status_code, None, TOKEN_METHOD, secrets=secrets)
        try:
            return Grant(
                str(body["access_token"]), str(body["refresh_token"]), float(body["expires_in"])
            )
        except (KeyError, TypeError, ValueError):
            raise B24ServerError(
                f"{TOKEN_METHOD}: unexpected answer", method=TOKEN_METHOD, status=200
            ) from None


__all__ = [
    "DEFAULT_TOKEN_URL",
    "Auth",
    "Grant",
    "MemoryTokenStore",
    "OAuthAuth",
    "PgTokenStore",
    "Prepared",
    "TokenStore",
    "Tokens",
    "WebhookAuth",
]
