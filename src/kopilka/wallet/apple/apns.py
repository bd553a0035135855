"""APNs over HTTP/2 (reference §1.7): ``POST /3/device/<push token>`` with an empty JSON
dictionary, ``apns-topic`` = the Pass Type ID. Authenticated by the Pass Type ID certificate as
the TLS client certificate (what Apple documents for passes), or by a token signed with an APNs
key (.p8, ES256; one token reused for 30 minutes: APNs refuses tokens older than an hour and
too frequent new ones)."""

from __future__ import annotations

import base64
import json
import ssl
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from kopilka.config import Settings

TOKEN_LIFETIME = 30 * 60


@dataclass(frozen=True)
class Answer:
    status: int  # 0: no answer (network)
    reason: str | None

    @property
    def gone(self) -> bool:
        """The token is no longer valid for the topic: forget the device."""
        return self.status == 410 or self.reason in ("BadDeviceToken", "DeviceTokenNotForTopic")

    @property
    def retry(self) -> bool:
        return self.status == 0 or self.status == 429 or self.status >= 500


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class ProviderToken:
    """The ES256 JWT of token authentication, made again every ``TOKEN_LIFETIME`` seconds."""

    def __init__(self, key_file: Path, key_id: str, team_id: str) -> None:
        key = serialization.load_pem_private_key(key_file.read_bytes(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the APNs key (.p8) must be an EC P-256 key")
        self._key, self._kid, self._team = key, key_id, team_id
        self._token, self._made = "", 0.0

    def current(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        if not self._token or now - self._made >= TOKEN_LIFETIME:
            header = _b64(json.dumps({"alg": "ES256", "kid": self._kid}).encode())
            claims = _b64(json.dumps({"iss": self._team, "iat": int(now)}).encode())
            der = self._key.sign(f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
            r, s = decode_dss_signature(der)
            raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
            self._token, self._made = f"{header}.{claims}.{_b64(raw)}", now
        return self._token


class Apns:
    def __init__(self, settings: Settings) -> None:
        s = settings
        ctx = ssl.create_default_context(
            cafile=str(s.apns_ca_file) if s.apns_ca_file is not None else None
        )
        self.token: ProviderToken | None = None
        if s.apns_key_file is not None:
            if not (s.apns_key_id and s.wallet_apple_team_id):
                raise ValueError("KOPILKA_APNS_KEY_FILE needs KOPILKA_APNS_KEY_ID and the team id")
            self.token = ProviderToken(s.apns_key_file, s.apns_key_id, s.wallet_apple_team_id)
        elif s.wallet_apple_cert_file is not None and s.wallet_apple_key_file is not None:
            password = s.wallet_apple_key_password
            ctx.load_cert_chain(
                s.wallet_apple_cert_file,
                s.wallet_apple_key_file,
                password.get_secret_value() if password is not None else None,
            )
        self.client = httpx.AsyncClient(
            http2=True, base_url=s.apns_url.rstrip("/"), verify=ctx, timeout=s.apns_timeout
        )

    async def push(self, push_token: str, topic: str) -> Answer:
        headers = {"apns-topic": topic, "apns-push-type": "background", "apns-priority": "5"}
        if self.token is not None:
            headers["authorization"] = f"bearer {self.token.current()}"
        try:
            r = await self.client.post(f"/3/device/{push_token}", content=b"{}", headers=headers)
        except httpx.HTTPError as exc:
            return Answer(0, type(exc).__name__)
        reason = None
        if r.status_code != 200:
            try:
                reason = str(r.json().get("reason"))[:100]
            except ValueError:
                reason = r.text[:100] or None
        return Answer(r.status_code, reason)

    async def aclose(self) -> None:
        await self.client.aclose()
