"""Apple Wallet end to end (issue 19, item 3): deals won in the emulated portal → the worker
syncs and the ledger's trigger queues one push for the device → the push goes, coalesced, over
real HTTP/2 to the local APNs with the Pass Type ID as topic → the device asks Kopilka's PassKit
web service (real HTTP) which serials changed and fetches the pass with the new balance. A 410
from APNs then removes the device's registration."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.db.engine import run_in_transaction
from kopilka.fakes.apns import FakeApns
from kopilka.ledger.book import get_customer_id
from kopilka.wallet.apple.apns import Apns
from kopilka.wallet.apple.pushes import send_due
from kopilka.wallet.apple.queries import pass_of
from tests.b24harness import kopilka_on_emulator
from tests.integration.wallet.conftest import apple_settings
from tests.wallet_certs import PASS_TYPE_ID, make_chain

pytestmark = pytest.mark.timeout(240)
TOKEN = "ef" * 32
DEVICE = "iphone-of-anna"


def _balance(pkpass: bytes) -> str:
    body = json.loads(zipfile.ZipFile(io.BytesIO(pkpass)).read("pass.json"))
    return str(body["storeCard"]["primaryFields"][0]["value"])


async def test_won_deals_push_once_and_the_device_gets_the_new_balance(
    committed_engine: AsyncEngine, tmp_path: Path
) -> None:
    chain = make_chain(tmp_path)
    with FakeApns(chain.server_cert, chain.server_key) as fake:
        settings = apple_settings(
            chain,
            b24_interval=0.05,
            b24_burst=10,
            apns_url=fake.url,
            apns_ca_file=chain.root,
            # the worker's minute task waits an hour: this test says when the minute is over
            wallet_apple_push_coalesce_seconds=3600,
        )
        async with kopilka_on_emulator(committed_engine, settings=settings) as h:
            anna = h.add_contact("Анна", "CLIENT")
            h.move(h.add_deal(anna, "10000"), "WON")  # +500: Анна is a customer now
            await h.settle()
            portal_id = h.connection.portal_id

            async def issue(conn):  # type: ignore[no-untyped-def]
                cid = await get_customer_id(conn, portal_id, f"contact:{anna}")
                return await pass_of(conn, portal_id, cid)

            row = await run_in_transaction(h.engine, issue)
            base = f"{h.web_url}/wallet/apple/v1"
            auth = {"Authorization": f"ApplePass {row.auth_token}"}
            apns = Apns(h.services.settings)
            async with httpx.AsyncClient() as device:
                reg = f"{base}/devices/{DEVICE}/registrations/{PASS_TYPE_ID}/{row.serial}"
                r = await device.post(reg, json={"pushToken": TOKEN}, headers=auth)
                assert r.status_code == 201
                listing = f"{base}/devices/{DEVICE}/registrations/{PASS_TYPE_ID}"
                tag = (await device.get(listing)).json()["lastUpdated"]
                url = f"{base}/passes/{PASS_TYPE_ID}/{row.serial}"
                assert _balance((await device.get(url, headers=auth)).content) == "500"

                # Two more deals won within the minute: one push.
                h.move(h.add_deal(anna, "10000"), "WON")
                h.move(h.add_deal(anna, "20000"), "WON")
                await h.settle()
                assert (await h.balance(anna)).available == 2_000_00
                report = await send_due(h.engine, apns, PASS_TYPE_ID, coalesce=0)
                assert report.sent == 1
                [push] = fake.received()
                assert (push.device_token, push.topic) == (TOKEN, PASS_TYPE_ID)
                assert push.http_version == "2"

                # The device does what Wallet does on a push.
                changed = await device.get(listing, params={"passesUpdatedSince": tag})
                assert changed.json()["serialNumbers"] == [row.serial]
                fresh = await device.get(url, headers=auth)
                assert fresh.status_code == 200
                assert _balance(fresh.content) == "2\u00a0000"

                # APNs says the token is gone: the registration goes with it.
                fake.answer(TOKEN, 410, "Unregistered")
                h.move(h.add_deal(anna, "1000"), "WON")
                await h.settle()
                report = await send_due(h.engine, apns, PASS_TYPE_ID, coalesce=0)
                assert report.dropped == 1
                assert len(fake.received()) == 2
                async with h.engine.connect() as conn:
                    left = await conn.scalar(
                        text("SELECT count(*) FROM wallet_apple_registrations")
                    )
                assert left == 0
                assert (await device.get(listing)).status_code == 204
            await apns.aclose()
