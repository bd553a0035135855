"""The PassKit web service over HTTP (issue 19, item 2): a device registers, learns which serials
changed after a grant, gets 304 for an unchanged pass and the new one after a change, and
unregisters; a wrong token is refused with 401 and changes nothing."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from kopilka.db.engine import run_in_transaction
from kopilka.wallet.apple.queries import PassRow, pass_of
from tests.integration.wallet.conftest import AppleEnv
from tests.wallet_certs import PASS_TYPE_ID

pytestmark = pytest.mark.timeout(120)
DEVICE = "a1b2c3d4e5f6"
PUSH = "ab" * 32
V1 = "/wallet/apple/v1"


async def _pass(apple: AppleEnv, cid: int) -> PassRow:
    async def unit(conn):  # type: ignore[no-untyped-def]
        return await pass_of(conn, apple.portal_id, cid)

    return await run_in_transaction(apple.engine, unit)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"ApplePass {token}"}


def _balance(pkpass: bytes) -> str:
    body = json.loads(zipfile.ZipFile(io.BytesIO(pkpass)).read("pass.json"))
    return str(body["storeCard"]["primaryFields"][0]["value"])


async def test_register_list_fetch_and_unregister(apple: AppleEnv) -> None:
    cid = await apple.customer("+79161112233", points=100)
    row = await _pass(apple, cid)
    c = apple.client
    reg = f"{V1}/devices/{DEVICE}/registrations/{PASS_TYPE_ID}/{row.serial}"

    # A wrong token, or none: 401, nothing recorded.
    for headers in (_auth("x" * 43), {}, {"Authorization": f"Bearer {row.auth_token}"}):
        r = await c.post(reg, json={"pushToken": PUSH}, headers=headers)
        assert r.status_code == 401
    assert await apple.scalar("SELECT count(*) FROM wallet_apple_devices") == 0

    r = await c.post(reg, json={"pushToken": PUSH}, headers=_auth(row.auth_token))
    assert r.status_code == 201
    r = await c.post(reg, json={"pushToken": PUSH}, headers=_auth(row.auth_token))
    assert r.status_code == 200  # already registered
    bad = await c.post(reg, json={"pushToken": "not hex"}, headers=_auth(row.auth_token))
    assert bad.status_code == 400

    listing = f"{V1}/devices/{DEVICE}/registrations/{PASS_TYPE_ID}"
    first = await c.get(listing)
    assert first.status_code == 200
    tag = first.json()["lastUpdated"]
    assert first.json()["serialNumbers"] == [row.serial]
    assert isinstance(tag, str)
    assert (await c.get(listing, params={"passesUpdatedSince": tag})).status_code == 204

    url = f"{V1}/passes/{PASS_TYPE_ID}/{row.serial}"
    assert (await c.get(url, headers=_auth("y" * 43))).status_code == 401
    got = await c.get(url, headers=_auth(row.auth_token))
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/vnd.apple.pkpass"
    assert _balance(got.content) == "100"
    modified = got.headers["last-modified"]
    assert modified.endswith(" GMT")
    unchanged = await c.get(url, headers={**_auth(row.auth_token), "If-Modified-Since": modified})
    assert unchanged.status_code == 304

    await apple.grant(cid, 30)  # two ledger changes ...
    await apple.grant(cid, 20)
    after = await c.get(listing, params={"passesUpdatedSince": tag})
    assert after.status_code == 200
    assert after.json()["serialNumbers"] == [row.serial]
    assert int(after.json()["lastUpdated"]) > int(tag)
    # ... one push waiting for the device (coalesced), for its token.
    pending = await apple.scalar(
        "SELECT count(*) FROM wallet_apple_pushes WHERE status = 'pending' AND push_token = :t",
        t=PUSH,
    )
    assert pending == 1
    changed = await c.get(url, headers={**_auth(row.auth_token), "If-Modified-Since": modified})
    assert changed.status_code == 200
    assert _balance(changed.content) == "150"
    assert changed.headers["last-modified"] != modified

    # Unregistering with a wrong token changes nothing; with the pass's own, the device goes.
    assert (await c.delete(reg, headers=_auth("z" * 43))).status_code == 401
    assert await apple.scalar("SELECT count(*) FROM wallet_apple_registrations") == 1
    assert (await c.delete(reg, headers=_auth(row.auth_token))).status_code == 200
    assert await apple.scalar("SELECT count(*) FROM wallet_apple_registrations") == 0
    assert (await c.get(listing)).status_code == 204
    assert (await c.post(f"{V1}/log", json={"logs": ["a message"]})).status_code == 200


async def test_the_pass_behind_a_link_and_in_the_cabinet(apple: AppleEnv) -> None:
    from kopilka.wallet.apple.service import pass_link

    cid = await apple.customer("+79164445566", points=40)

    async def unit(conn):  # type: ignore[no-untyped-def]
        return await pass_link(conn, apple.services.settings, apple.portal_id, cid, apple.clock.now)

    link = await run_in_transaction(apple.engine, unit)
    got = await apple.client.get(link)
    assert got.status_code == 200
    assert _balance(got.content) == "40"
    assert (await apple.client.get(link[:-3] + "xyz")).status_code == 404
    apple.clock.advance(days=8)  # past wallet_apple_link_days
    assert (await apple.client.get(link)).status_code == 404
    # The cabinet's button: only for a signed-in customer.
    anonymous = await apple.client.get("/cabinet/wallet/apple")
    assert anonymous.status_code in (302, 303, 307)


async def test_the_cabinet_hands_each_customer_their_own_pass(apple: AppleEnv) -> None:
    from kopilka.cabinet import sessions

    anna = await apple.customer("+79160001122", points=70)
    oleg = await apple.customer("+79160003344", points=9)

    async def login(conn):  # type: ignore[no-untyped-def]
        return await sessions.open_session(
            conn, "customer", apple.portal_id, anna, apple.clock.now, 3600
        )

    token = await run_in_transaction(apple.engine, login)
    apple.client.cookies.set("kop_session", token)
    page = await apple.client.get("/cabinet/card")
    assert page.status_code == 200
    assert 'href="/cabinet/wallet/apple"' in page.text
    assert "Добавить в Apple Wallet" in page.text
    got = await apple.client.get("/cabinet/wallet/apple")
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/vnd.apple.pkpass"
    body = json.loads(zipfile.ZipFile(io.BytesIO(got.content)).read("pass.json"))
    assert body["serialNumber"] == (await _pass(apple, anna)).serial
    assert body["serialNumber"] != (await _pass(apple, oleg)).serial
    assert _balance(got.content) == "70"
    assert body["barcodes"][0]["message"] == "+79160001122"
