"""A Google service account made at test time: its JSON key (as the Cloud console gives it) and
public key, and an RS256 JWT checked with that key without the library that signed it."""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.factories import ref

EMAIL = "wallet@kopilka-test.iam.gserviceaccount.com"


def service_account_key() -> tuple[dict[str, Any], rsa.RSAPublicKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "client_email": EMAIL,
        "private_key_id": "kid-" + ref("k"),
        "private_key": pem,
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    return info, key.public_key()


def public_pem(key: rsa.RSAPublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verified_jwt(token: str, key: rsa.RSAPublicKey) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of an RS256 JWT, its signature checked with ``key`` (raises if not)."""
    header, claims, signature = token.split(".")
    key.verify(_b64(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return json.loads(_b64(header)), json.loads(_b64(claims))
