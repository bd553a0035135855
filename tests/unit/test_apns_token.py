"""The APNs provider token (token authentication): an ES256 JWT with the key id and team id,
verifiable with the key's public half, reused for 30 minutes and then made anew."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from kopilka.wallet.apple.apns import TOKEN_LIFETIME, ProviderToken


def _part(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def test_the_token_is_an_es256_jwt_reused_until_it_is_old(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    p8 = tmp_path / "AuthKey.p8"
    p8.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    maker = ProviderToken(p8, "KEY1234567", "TEAM123456")
    token = maker.current(now=1_000_000.0)
    header, claims, signature = token.split(".")
    assert json.loads(_part(header)) == {"alg": "ES256", "kid": "KEY1234567"}
    assert json.loads(_part(claims)) == {"iss": "TEAM123456", "iat": 1_000_000}
    raw = _part(signature)
    assert len(raw) == 64
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key.public_key().verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    assert maker.current(now=1_000_000.0 + TOKEN_LIFETIME - 1) == token
    assert maker.current(now=1_000_000.0 + TOKEN_LIFETIME) != token
