"""The signed pass (issue 19, item 1): a real ``.pkpass`` whose signature ``openssl smime
-verify`` accepts against a CA chain made at test time, whose manifest matches its files, and
whose ``pass.json`` tells the customer's real balance."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from kopilka.db.engine import run_in_transaction
from kopilka.wallet.apple.service import apple_of, pkpass_for
from tests.integration.wallet.conftest import WEB_SERVICE, AppleEnv
from tests.wallet_certs import PASS_TYPE_ID, TEAM_ID

pytestmark = pytest.mark.timeout(120)
PHONE = "+79161234567"


async def test_the_pass_is_signed_and_tells_the_real_balance(
    apple: AppleEnv, tmp_path: Path
) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl binary is not installed: the signature cannot be checked")
    cid = await apple.customer(PHONE, points=150)
    await apple.grant(cid, 25)
    issuer = apple_of(apple.services.settings)
    assert issuer is not None

    async def unit(conn):  # type: ignore[no-untyped-def]
        return await pkpass_for(conn, issuer, apple.portal_id, cid, apple.clock.now)

    data, row = await run_in_transaction(apple.engine, unit)
    archive = zipfile.ZipFile(io.BytesIO(data))
    names = set(archive.namelist())
    assert {"pass.json", "manifest.json", "signature", "icon.png"} <= names
    assert all("/" not in n for n in names)  # every file at the root
    manifest = json.loads(archive.read("manifest.json"))
    assert set(manifest) == names - {"manifest.json", "signature"}
    for name, digest in manifest.items():
        assert hashlib.sha1(archive.read(name)).hexdigest() == digest, name  # noqa: S324
    archive.extractall(tmp_path)
    verified = subprocess.run(  # noqa: S603
        [  # noqa: S607
            "openssl",
            "smime",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "signature"),
            "-content",
            str(tmp_path / "manifest.json"),
            "-CAfile",
            str(apple.chain.root),
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stderr
    assert "Verification successful" in verified.stderr
    # A manifest changed after signing does not verify: the check above is a real one.
    (tmp_path / "manifest.json").write_bytes(archive.read("manifest.json") + b" ")
    forged = subprocess.run(  # noqa: S603
        [  # noqa: S607
            "openssl",
            "smime",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "signature"),
            "-content",
            str(tmp_path / "manifest.json"),
            "-CAfile",
            str(apple.chain.root),
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
        capture_output=True,
        check=False,
    )
    assert forged.returncode != 0

    body = json.loads(archive.read("pass.json"))
    assert body["formatVersion"] == 1
    assert body["passTypeIdentifier"] == PASS_TYPE_ID
    assert body["teamIdentifier"] == TEAM_ID
    assert body["serialNumber"] == row.serial
    assert body["authenticationToken"] == row.auth_token
    assert len(row.auth_token) >= 16
    assert body["webServiceURL"] == WEB_SERVICE
    primary = body["storeCard"]["primaryFields"][0]
    assert (primary["label"], primary["value"]) == ("Баллы", "175")
    assert "%@" in primary["changeMessage"]
    assert body["barcodes"][0]["message"] == PHONE
    assert body["barcodes"][0]["format"] == "PKBarcodeFormatQR"
    assert body["barcodes"][0]["altText"] == "+7 916 123-45-67"
    assert "сделк" not in json.dumps(body, ensure_ascii=False).lower()
    # The token is stored encrypted, never as it is.
    stored = await apple.scalar(
        "SELECT auth_token FROM wallet_apple_passes WHERE id = :i", i=row.id
    )
    assert stored.startswith("enc:")
    assert row.auth_token not in stored
