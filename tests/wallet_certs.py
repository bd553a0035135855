"""Certificates made at test time (reference §1.5): a root CA, a "WWDR" intermediate and a Pass
Type ID leaf that signs passes; a server certificate for 127.0.0.1 (the APNs fake's TLS)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PASS_TYPE_ID = "pass.ru.example.kopilka"
TEAM_ID = "ABCDE12345"


def _name(cn: str, ou: str | None = None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if ou:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
    return x509.Name(parts)


def _cert(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    san: x509.SubjectAlternativeName | None = None,
) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san is not None:
        builder = builder.add_extension(san, critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True)
class Chain:
    root: Path  # the CA file openssl verifies against
    wwdr: Path
    cert: Path  # the Pass Type ID certificate
    key: Path
    server_cert: Path  # 127.0.0.1, for the APNs fake
    server_key: Path


def make_chain(folder: Path) -> Chain:
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name("Test Root CA")
    root = _cert(root_name, root_key, root_name, root_key, ca=True)
    wwdr_key = ec.generate_private_key(ec.SECP256R1())
    wwdr_name = _name("Test WWDR Intermediate")
    wwdr = _cert(wwdr_name, wwdr_key, root_name, root_key, ca=True)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = _cert(
        _name(f"Pass Type ID: {PASS_TYPE_ID}", TEAM_ID), leaf_key, wwdr_name, wwdr_key, ca=False
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    server = _cert(_name("127.0.0.1"), server_key, root_name, root_key, ca=False, san=san)
    files = {
        "root.pem": _pem(root),
        "wwdr.pem": _pem(wwdr),
        "pass.pem": _pem(leaf),
        "pass.key": _key_pem(leaf_key),
        "server.pem": _pem(server) + _pem(root),
        "server.key": _key_pem(server_key),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return Chain(*(folder / n for n in files))
