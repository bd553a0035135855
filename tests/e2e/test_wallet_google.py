"""Google Wallet end to end (issue 19, item 4): a deal won in the emulated portal makes a
customer; the cabinet's link (real HTTP) makes the card on the local Google fake through the
service account's token and hands out the save link; two more deals won → one PATCH with the new
balance, sent by the update job once the settle window is over."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.cabinet.sessions import open_session
from kopilka.config import Settings
from kopilka.db.engine import run_in_transaction
from kopilka.fakes.google_wallet import FakeGoogleWallet
from kopilka.ledger.book import get_customer_id
from kopilka.process.devstack import emulated_portal
from kopilka.wallet.google.savelink import SAVE_URL
from kopilka.wallet.google.service import update_due
from tests.b24harness import kopilka_on_emulator
from tests.google_wallet_keys import EMAIL, public_pem, service_account_key, verified_jwt

pytestmark = pytest.mark.timeout(240)
PHONE = "+79035551234"


async def test_won_deals_reach_the_google_card_in_one_patch(
    committed_engine: AsyncEngine, tmp_path: Path
) -> None:
    account, public_key = service_account_key()
    key_file = tmp_path / "sa.json"
    key_file.write_text(json.dumps(account), encoding="utf-8")
    with FakeGoogleWallet() as fake:
        fake.add_account(EMAIL, public_pem(public_key))
        portal = emulated_portal()
        settings = Settings(
            cabinet_portal=portal.member_id,  # the shop whose cabinet this is
            b24_interval=0.05,
            b24_burst=10,
            google_wallet_enabled=True,
            google_wallet_issuer_id=fake.issuer_id,
            google_wallet_key_file=key_file,
            google_wallet_token_uri=fake.token_uri,
            google_wallet_api_url=fake.api_url,
            google_wallet_logo_url="https://shop.example/logo.png",
            # the worker's minute tick waits an hour: this test says when the window is over
            google_wallet_settle_seconds=3600,
        )
        async with kopilka_on_emulator(committed_engine, settings=settings, portal=portal) as h:
            anna = h.add_contact("Анна", "CLIENT")
            h.move(h.add_deal(anna, "10000"), "WON")  # +500: Анна is a customer now
            await h.settle()
            portal_id = h.connection.portal_id

            async def card_and_session(conn):  # type: ignore[no-untyped-def]
                cid = await get_customer_id(conn, portal_id, f"contact:{anna}")
                await conn.execute(
                    text(
                        "INSERT INTO cards (portal_id, customer_id, number, issued_by) "
                        "VALUES (:p, :c, :n, 'test')"
                    ),
                    {"p": portal_id, "c": cid, "n": PHONE},
                )
                return await open_session(conn, "customer", portal_id, cid, datetime.now(UTC), 3600)

            session = await run_in_transaction(h.engine, card_and_session)
            async with httpx.AsyncClient(
                base_url=h.web_url, cookies={"kop_session": session}
            ) as browser:
                answer = await browser.get("/cabinet/wallet/google")
            assert answer.status_code == 303, answer.text
            _header, claims = verified_jwt(
                answer.headers["location"].removeprefix(SAVE_URL), public_key
            )
            (named,) = claims["payload"]["loyaltyObjects"]
            made = fake.objects[named["id"]]
            assert made["loyaltyPoints"]["balance"] == {"string": "500"}

            # Two more deals won: one PATCH once the window is over, with the new balance.
            h.move(h.add_deal(anna, "10000"), "WON")
            h.move(h.add_deal(anna, "20000"), "WON")
            await h.settle()
            assert (await h.balance(anna)).available == 2_000_00
            assert fake.rest_calls("PATCH") == []
            later = replace(h.services, now=lambda: datetime.now(UTC) + timedelta(hours=2))
            report = await update_due(later, portal_id)
            if later.http is not None and later.http is not h.services.http:
                await later.http.aclose()
    assert report.updated == 1
    [(_method, path, body)] = fake.rest_calls("PATCH")
    assert path.endswith(named["id"])
    assert body is not None
    assert body["loyaltyPoints"]["balance"] == {"string": "2\u00a0000"}
    assert fake.objects[named["id"]]["loyaltyPoints"]["balance"] == {"string": "2\u00a0000"}
