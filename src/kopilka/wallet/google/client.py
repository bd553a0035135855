"""Google Wallet's REST API as a service account (``reference/integrations.md`` §2.5, §2.6).

The account proves itself with a JWT assertion signed by its private key (RS256, ``kid`` = the
key's id), exchanged at the token URI for an access token (the JWT-bearer grant); the token is
kept until a minute before it expires, or until Google refuses it. Errors name the call and
Google's status, never a token or the key.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt

SCOPE = "https://www.googleapis.com/auth/wallet_object.issuer"
GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: The audience Google's token server expects (google-auth sends it whatever the URI).
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 (a URL)


class GoogleWalletError(Exception):
    """A call Google refused or did not answer; ``status`` 0: no answer."""

    def __init__(self, what: str, status: int, reason: str = "") -> None:
        super().__init__(f"Google Wallet {what}: {status or 'no answer'} {reason}".strip())
        self.status = status


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    email: str
    key_id: str
    private_key: str = field(repr=False)  # PEM
    token_uri: str = GOOGLE_TOKEN_URI

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> ServiceAccount:
        return cls(
            email=str(info["client_email"]),
            key_id=str(info.get("private_key_id") or ""),
            private_key=str(info["private_key"]),
            token_uri=str(info.get("token_uri") or GOOGLE_TOKEN_URI),
        )

    @classmethod
    def from_file(cls, path: Path) -> ServiceAccount:
        return cls.from_info(json.loads(path.read_text(encoding="utf-8")))

    def sign(self, claims: dict[str, Any]) -> str:
        headers = {"kid": self.key_id} if self.key_id else None
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers=headers)


class WalletClient:
    """The calls Kopilka makes; ``token_uri`` overrides the account's (tests: the fake)."""

    def __init__(
        self,
        account: ServiceAccount,
        http: httpx.AsyncClient,
        *,
        api_url: str,
        token_uri: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.account = account
        self.http = http
        self.api_url = api_url.rstrip("/")
        self.token_uri = token_uri or account.token_uri
        self.timeout = timeout
        self._token: tuple[str, float] | None = None  # (token, monotonic deadline)
        self._lock = asyncio.Lock()

    # --- the account's token ---------------------------------------------------------------
    async def _access_token(self, *, fresh: bool = False) -> str:
        async with self._lock:
            if self._token is not None and not fresh and time.monotonic() < self._token[1]:
                return self._token[0]
            now = int(time.time())
            assertion = self.account.sign(
                {
                    "iss": self.account.email,
                    "scope": SCOPE,
                    "aud": self.account.token_uri,
                    "iat": now,
                    "exp": now + 3600,
                }
            )
            try:
                answer = await self.http.post(
                    self.token_uri,
                    data={"grant_type": GRANT, "assertion": assertion},
                    timeout=self.timeout,
                )
            except httpx.HTTPError as exc:
                raise GoogleWalletError("token", 0, type(exc).__name__) from None
            if answer.status_code != 200:
                raise GoogleWalletError("token", answer.status_code, _reason(answer))
            body = _json(answer)
            if not body.get("access_token"):
                raise GoogleWalletError("token", answer.status_code, "no access_token")
            lifetime = float(body.get("expires_in") or 3600)
            self._token = (str(body["access_token"]), time.monotonic() + lifetime - 60)
            return self._token[0]

    # --- REST ------------------------------------------------------------------------------
    async def call(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """(status, JSON body) of a call; a refused token is renewed once."""
        for attempt in (0, 1):
            token = await self._access_token(fresh=attempt == 1)
            try:
                answer = await self.http.request(
                    method,
                    f"{self.api_url}/{path}",
                    json=body,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=self.timeout,
                )
            except httpx.HTTPError as exc:
                raise GoogleWalletError(f"{method} {path}", 0, type(exc).__name__) from None
            if answer.status_code != 401:
                break
        return answer.status_code, _json(answer)

    async def insert(self, kind: str, body: dict[str, Any]) -> bool:
        """Create a ``loyaltyClass`` or ``loyaltyObject``; False if it exists already."""
        status, data = await self.call("POST", kind, body)
        if status == 409:
            return False
        _check(f"POST {kind}", status, data)
        return True

    async def patch(self, kind: str, resource_id: str, body: dict[str, Any]) -> dict[str, Any]:
        status, data = await self.call("PATCH", f"{kind}/{resource_id}", body)
        _check(f"PATCH {kind}", status, data)
        return data

    async def get(self, kind: str, resource_id: str) -> dict[str, Any] | None:
        status, data = await self.call("GET", f"{kind}/{resource_id}")
        if status == 404:
            return None
        _check(f"GET {kind}", status, data)
        return data


def _check(what: str, status: int, data: dict[str, Any]) -> None:
    if not 200 <= status < 300:
        error = data.get("error")
        reason = str(error.get("status") or "") if isinstance(error, dict) else ""
        raise GoogleWalletError(what, status, reason)


def _json(answer: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object; {} for anything else (a proxy's HTML page, nothing)."""
    try:
        body = answer.json() if answer.content else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _reason(answer: httpx.Response) -> str:
    return str(_json(answer).get("error") or "")[:100]
