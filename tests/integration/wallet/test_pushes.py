"""Pushes (issue 19, item 3) to the local APNs over real HTTP/2: ledger changes of one minute are
one push per device, with the Pass Type ID as ``apns-topic``; a retryable failure is tried again;
410 forgets the device and its registrations."""

from __future__ import annotations

import pytest

from kopilka.fakes.apns import FakeApns
from kopilka.wallet.apple.apns import Apns
from kopilka.wallet.apple.pushes import send_due
from tests.integration.wallet.conftest import AppleEnv, apple_settings
from tests.integration.wallet.test_web_service import PUSH, _auth, _pass
from tests.wallet_certs import PASS_TYPE_ID

pytestmark = pytest.mark.timeout(120)
OTHER = "cd" * 32


async def _register(apple: AppleEnv, device: str, push: str, cid: int) -> None:
    row = await _pass(apple, cid)
    r = await apple.client.post(
        f"/wallet/apple/v1/devices/{device}/registrations/{PASS_TYPE_ID}/{row.serial}",
        json={"pushToken": push},
        headers=_auth(row.auth_token),
    )
    assert r.status_code == 201


async def test_one_coalesced_push_per_device_and_410_forgets_it(apple: AppleEnv) -> None:
    cid = await apple.customer("+79167778899", points=10)
    await _register(apple, "phone-1", PUSH, cid)
    await _register(apple, "watch-1", OTHER, cid)
    with FakeApns(apple.chain.server_cert, apple.chain.server_key) as fake:
        apns = Apns(apple_settings(apple.chain, apns_url=fake.url, apns_ca_file=apple.chain.root))
        try:
            # Within the coalescing window nothing goes out yet.
            await apple.grant(cid, 5)
            await apple.grant(cid, 7)
            waiting = await send_due(apple.engine, apns, PASS_TYPE_ID, coalesce=3600)
            assert waiting.sent == 0
            assert fake.received() == []
            report = await send_due(apple.engine, apns, PASS_TYPE_ID, coalesce=0)
            assert report.sent == 2
            pushes = fake.received()
            assert sorted(p.device_token for p in pushes) == sorted([PUSH, OTHER])
            for p in pushes:
                assert p.topic == PASS_TYPE_ID
                assert p.http_version == "2"
                assert p.body == b"{}"
            # Nothing is due any more: each device had one push for both grants.
            assert (await send_due(apple.engine, apns, PASS_TYPE_ID, coalesce=0)).sent == 0

            # The phone's token is gone (410); the watch's APNs is down for a while (503).
            fake.answer(PUSH, 410, "Unregistered")
            fake.answer(OTHER, 503, "ServiceUnavailable")
            await apple.grant(cid, 1)
            report = await send_due(apple.engine, apns, PASS_TYPE_ID, coalesce=0)
            assert (report.dropped, report.retried) == (1, 1)
            devices = await apple.scalar(
                "SELECT string_agg(library_id, ',') FROM wallet_apple_devices"
            )
            assert devices == "watch-1"
            assert await apple.scalar("SELECT count(*) FROM wallet_apple_registrations") == 1
            retry = await apple.scalar(
                "SELECT count(*) FROM wallet_apple_pushes WHERE status = 'sending' "
                "AND push_token = :t AND not_before > now()",
                t=OTHER,
            )
            assert retry == 1
        finally:
            await apns.aclose()
