"""API keys: one portal each, with scopes; only a hash is stored.

A key reads ``kop_<prefix>_<secret>``; the prefix (8 hex) finds the row, the SHA-256 of the
whole key is compared in constant time. The plaintext is shown once, when the key is made.
Clients send it as ``Authorization: Bearer <key>``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.api.errors import ApiError

SCOPES = (
    "cards:read",  # look up cards, balances and history
    "cards:write",  # issue cards by hand
    "pos:write",  # calculate / hold / commit / cancel / refund
    "grants:write",  # manual bonuses
    "registrations:write",  # site registration
)


@dataclass(frozen=True)
class ApiPrincipal:
    key_id: int
    portal_id: int
    name: str
    scopes: frozenset[str]


#: Successful look-ups are remembered for a few seconds per process (the balance lookup then
#: costs no key query); a revoked key stops working within this time.
AUTH_TTL = 5.0
_known: dict[str, tuple[float, ApiPrincipal]] = {}


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_api_key(
    conn: AsyncConnection, portal_id: int, name: str, scopes: Iterable[str]
) -> str:
    """Store a new key and return its plaintext (the only time it exists)."""
    wanted = sorted(set(scopes))
    unknown = [s for s in wanted if s not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(unknown)} (known: {', '.join(SCOPES)})")
    if not wanted:
        raise ValueError("a key needs at least one scope")
    prefix = secrets.token_hex(4)
    key = f"kop_{prefix}_{secrets.token_urlsafe(24)}"
    await conn.execute(
        text(
            "INSERT INTO api_keys (portal_id, name, prefix, key_hash, scopes) "
            "VALUES (:portal_id, :name, :prefix, :hash, :scopes)"
        ),
        {
            "portal_id": portal_id,
            "name": name,
            "prefix": prefix,
            "hash": _digest(key),
            "scopes": wanted,
        },
    )
    return key


async def revoke_api_key(conn: AsyncConnection, portal_id: int, prefix: str) -> bool:
    _known.clear()  # this process forgets at once; others within AUTH_TTL
    result = await conn.execute(
        text(
            "UPDATE api_keys SET revoked_at = now() "
            "WHERE portal_id = :portal_id AND prefix = :prefix AND revoked_at IS NULL"
        ),
        {"portal_id": portal_id, "prefix": prefix},
    )
    return bool(result.rowcount)


async def authenticate(conn: AsyncConnection, key: str) -> ApiPrincipal | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "kop" or len(parts[1]) != 8:
        return None
    row = (
        await conn.execute(
            text(
                "SELECT id, portal_id, name, key_hash, scopes FROM api_keys "
                "WHERE prefix = :prefix AND revoked_at IS NULL"
            ),
            {"prefix": parts[1]},
        )
    ).first()
    if row is None or not hmac.compare_digest(row.key_hash, _digest(key)):
        return None
    return ApiPrincipal(row.id, row.portal_id, row.name, frozenset(row.scopes))


def require_scope(scope: str) -> Callable[[Request], Awaitable[ApiPrincipal]]:
    """A FastAPI dependency: the caller's key, which must carry ``scope``."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    async def dependency(request: Request) -> ApiPrincipal:
        header = request.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise ApiError(
                401,
                "unauthorized",
                "an API key is required (Authorization: Bearer <key>)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        digest = _digest(key.strip())
        cached = _known.get(digest)
        if cached and cached[0] > time.monotonic():
            principal: ApiPrincipal | None = cached[1]
        else:
            engine = request.app.state.services.engine
            async with engine.connect() as conn:
                principal = await authenticate(conn, key.strip())
            if principal is not None:
                if len(_known) > 10_000:
                    _known.clear()
                _known[digest] = (time.monotonic() + AUTH_TTL, principal)
        if principal is None:
            raise ApiError(
                401,
                "unauthorized",
                "the API key is not valid",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if scope not in principal.scopes:
            raise ApiError(403, "forbidden", f"the API key lacks the scope {scope!r}")
        return principal

    return dependency
