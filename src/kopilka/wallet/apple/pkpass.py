"""The ``.pkpass`` of a card: ``pass.json`` (a storeCard), the images, ``manifest.json`` (SHA-1 of
every other file) and ``signature`` (PKCS#7 detached, DER, signed by the Pass Type ID certificate,
Apple's WWDR intermediate included, signing time among the signed attributes). Written here on
``cryptography`` rather than taken from a library (docs/decisions.md)."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from kopilka.wallet.common import CardView

CONTENT_TYPE = "application/vnd.apple.pkpass"
#: the images a storeCard uses (any missing one is simply left out, except the icon)
IMAGES = tuple(
    f"{name}{scale}.png" for name in ("icon", "logo", "strip") for scale in ("", "@2x", "@3x")
)


@dataclass(frozen=True)
class Signer:
    """The Pass Type ID certificate, its key, and the intermediate that issued it."""

    certificate: x509.Certificate
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    intermediate: x509.Certificate

    @classmethod
    def load(cls, cert: Path, key: Path, wwdr: Path, password: bytes | None = None) -> Signer:
        private = serialization.load_pem_private_key(key.read_bytes(), password)
        if not isinstance(private, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ValueError("the Pass Type ID key must be an RSA or EC key")
        raw = wwdr.read_bytes()
        inter = (
            x509.load_pem_x509_certificate(raw)
            if raw.lstrip().startswith(b"-----")
            else x509.load_der_x509_certificate(raw)
        )
        return cls(x509.load_pem_x509_certificate(cert.read_bytes()), private, inter)

    def sign(self, manifest: bytes) -> bytes:
        # Binary: without it the manifest is hashed with \r\n line ends and fails to verify.
        return (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(manifest)
            .add_signer(self.certificate, self.key, hashes.SHA256())
            .add_certificate(self.intermediate)
            .sign(
                serialization.Encoding.DER,
                [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary],
            )
        )


@dataclass(frozen=True)
class Identity:
    """Who issues the pass and where its updates come from."""

    pass_type_id: str
    team_id: str
    web_service_url: str | None  # None: the pass is never updated


def _rgb(colour: str) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def pass_json(view: CardView, identity: Identity, serial: str, token: str) -> dict[str, Any]:
    """The storeCard: the balance in front (its change on the lock screen), the level and the
    points expiring soon beside it, the card number under the barcode."""
    fields: dict[str, list[dict[str, Any]]] = {
        "primaryFields": [
            {
                "key": "balance",
                "label": view.points_label,
                "value": view.balance_text,
                "changeMessage": view.change_message,
            }
        ],
        "secondaryFields": [],
        "auxiliaryFields": [],
        "backFields": [],
    }
    if view.level:
        fields["secondaryFields"].append(
            {"key": "level", "label": view.word("level"), "value": view.level}
        )
    fields["secondaryFields"].append(
        {
            "key": "expiring",
            "label": view.word("expiring_label"),
            "value": view.expiring_text or view.word("no_expiring"),
            "changeMessage": "%@",
        }
    )
    if view.holder:
        fields["auxiliaryFields"].append(
            {"key": "holder", "label": view.word("holder"), "value": view.holder}
        )
    if view.terms:
        back = {"key": "terms", "label": view.word("terms"), "value": view.terms}
        fields["backFields"].append(back)
    body: dict[str, Any] = {
        "formatVersion": 1,
        "passTypeIdentifier": identity.pass_type_id,
        "teamIdentifier": identity.team_id,
        "serialNumber": serial,
        "organizationName": view.shop,
        "description": view.description,
        "logoText": view.shop,
        "backgroundColor": _rgb(view.background),
        "foregroundColor": _rgb(view.foreground),
        "labelColor": _rgb(view.label),
        "sharingProhibited": True,
        "storeCard": fields,
    }
    if view.card_number:
        code = {
            "format": "PKBarcodeFormatQR" if view.barcode == "qr" else "PKBarcodeFormatCode128",
            "message": view.card_number,
            "messageEncoding": "iso-8859-1",
            "altText": view.display_number or view.card_number,
        }
        body["barcodes"] = [code]
        body["barcode"] = code  # iOS before 9
    if identity.web_service_url:
        body["webServiceURL"] = identity.web_service_url
        body["authenticationToken"] = token
    return body


def build(
    view: CardView,
    identity: Identity,
    signer: Signer,
    serial: str,
    token: str,
    images: Path | None = None,
) -> bytes:
    """The signed ``.pkpass`` (a ZIP with every file at its root)."""
    files: dict[str, bytes] = {
        "pass.json": json.dumps(
            pass_json(view, identity, serial, token), ensure_ascii=False, indent=1
        ).encode()
    }
    for name in IMAGES:
        if images is not None and (images / name).is_file():
            files[name] = (images / name).read_bytes()
    if "icon.png" not in files:  # required: a plain square in the card's colour
        files["icon.png"] = solid_png(29, view.background)
        files["icon@2x.png"] = solid_png(58, view.background)
    manifest = json.dumps(
        {name: hashlib.sha1(data).hexdigest() for name, data in files.items()},  # noqa: S324
        indent=1,
    ).encode()
    files["manifest.json"] = manifest
    files["signature"] = signer.sign(manifest)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def solid_png(size: int, colour: str) -> bytes:
    """A ``size``×``size`` PNG of one colour (no imaging library needed)."""
    rgb = bytes(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    raw = b"".join(b"\x00" + rgb * size for _ in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
