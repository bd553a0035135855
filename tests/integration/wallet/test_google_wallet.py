"""Google Wallet loyalty cards (issue 19, item 4) on a committed database, against the local fake
of Google's token server and Wallet REST API over real HTTP: the cabinet's link makes the class
and the object through the service account's token, then hands out a save link whose JWT the
account's public key verifies; ledger changes make one PATCH a settle window; with the setting
off nothing is called."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.cabinet.sessions import open_session
from kopilka.config import Settings
from kopilka.db.engine import run_in_transaction
from kopilka.domain.money import format_points
from kopilka.fakes.google_wallet import FakeGoogleWallet
from kopilka.ledger.accrual import accrue
from kopilka.ledger.book import ensure_customer, ensure_portal
from kopilka.ledger.types import Book
from kopilka.lifecycle.service import install_program
from kopilka.process.services import Services
from kopilka.process.worker import run_worker, worker_app
from kopilka.program.loader import load_program
from kopilka.wallet.google import service as wallet_service
from kopilka.wallet.google.client import GoogleWalletError, ServiceAccount, WalletClient
from kopilka.wallet.google.savelink import SAVE_URL
from kopilka.wallet.google.tasks import tick_job
from kopilka.web.app import create_app
from tests.factories import ref
from tests.google_wallet_keys import EMAIL, public_pem, service_account_key, verified_jwt

pytestmark = pytest.mark.timeout(120)
EXAMPLE = Path(__file__).parents[3] / "examples" / "car-service.yaml"
PHONE = "+79161234567"
ORIGIN = "https://lk.shop.example"


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Env:
    engine: AsyncEngine
    services: Services
    fake: FakeGoogleWallet
    client: httpx.AsyncClient
    book: Book
    portal_id: int
    customer_id: int
    account: dict[str, Any]
    public_key: rsa.RSAPublicKey
    clock: Clock

    async def accrue(self, points: int) -> None:
        async def unit(conn: AsyncConnection) -> None:
            await accrue(
                conn,
                self.book,
                customer_id=self.customer_id,
                amount=points * 100,
                key=ref("acc"),
                reason="тест",
                actor="test",
                now=datetime.now(UTC) - timedelta(minutes=1),
            )

        await run_in_transaction(self.engine, unit)

    async def balance_text(self) -> str:
        async with self.engine.connect() as conn:
            minor = await conn.scalar(
                text("SELECT balance FROM accounts WHERE customer_id = :c AND kind = 'customer'"),
                {"c": self.customer_id},
            )
        return format_points(int(minor or 0))

    async def row(self) -> Any:
        async with self.engine.connect() as conn:
            return (
                await conn.execute(
                    text("SELECT * FROM google_wallet_objects WHERE customer_id = :c"),
                    {"c": self.customer_id},
                )
            ).one()


@asynccontextmanager
async def google_env(engine: AsyncEngine, tmp_path: Path, **settings: Any) -> AsyncIterator[Env]:
    program = load_program(EXAMPLE)

    member = ref("shop")

    async def seed(conn: AsyncConnection) -> tuple[int, Book, int]:
        portal_id = await ensure_portal(conn, member)
        book = await install_program(conn, portal_id, program, EXAMPLE.read_text(encoding="utf-8"))
        cid = await ensure_customer(conn, portal_id, "contact:501", name="Анна", phone=PHONE)
        await conn.execute(
            text(
                "INSERT INTO cards (portal_id, customer_id, number, issued_by) "
                "VALUES (:p, :c, :n, 'auto')"
            ),
            {"p": portal_id, "c": cid, "n": PHONE},
        )
        return portal_id, book, cid

    portal_id, book, customer_id = await run_in_transaction(engine, seed)
    account, public_key = service_account_key()
    key_file = tmp_path / "sa.json"
    key_file.write_text(json.dumps(account), encoding="utf-8")
    with FakeGoogleWallet() as fake:
        fake.add_account(EMAIL, public_pem(public_key))
        config: dict[str, Any] = {
            "google_wallet_enabled": True,
            "google_wallet_issuer_id": fake.issuer_id,
            "google_wallet_key_file": key_file,
            "google_wallet_token_uri": fake.token_uri,
            "google_wallet_api_url": fake.api_url,
            "google_wallet_logo_url": "https://shop.example/logo.png",
            "google_wallet_origins": ORIGIN,
            "cabinet_portal": member,  # the shop whose cabinet this is
        }
        clock = Clock(datetime.now(UTC))
        url = engine.url.render_as_string(hide_password=False)
        services = Services(
            engine=engine, database_url=url, settings=Settings(**(config | settings)), now=clock
        )

        async def login(conn: AsyncConnection) -> str:
            return await open_session(conn, "customer", portal_id, customer_id, clock.now, 3600)

        token = await run_in_transaction(engine, login)
        transport = httpx.ASGITransport(app=create_app(services))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", cookies={"kop_session": token}
        ) as client:
            try:
                yield Env(
                    engine,
                    services,
                    fake,
                    client,
                    book,
                    portal_id,
                    customer_id,
                    account,
                    public_key,
                    clock,
                )
            finally:
                await services.aclose()


async def add_to_wallet(env: Env) -> tuple[dict[str, Any], dict[str, Any]]:
    answer = await env.client.get("/cabinet/wallet/google")
    assert answer.status_code == 303, answer.text
    link = answer.headers["location"]
    assert link.startswith(SAVE_URL)
    return verified_jwt(link.removeprefix(SAVE_URL), env.public_key)


async def test_the_link_makes_the_card_on_google_and_hands_out_a_signed_save_link(
    committed_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with google_env(committed_engine, tmp_path) as env:
        await env.accrue(150)
        header, claims = await add_to_wallet(env)
        again = await add_to_wallet(env)
        row = await env.row()
        balance = await env.balance_text()

    assert header == {"alg": "RS256", "typ": "JWT", "kid": env.account["private_key_id"]}
    assert claims["iss"] == EMAIL
    assert claims["aud"] == "google"
    assert claims["typ"] == "savetowallet"
    assert claims["origins"] == [ORIGIN]
    (named,) = claims["payload"]["loyaltyObjects"]
    assert named == {"id": row.object_id, "classId": named["classId"]}
    assert set(claims["payload"]) == {"loyaltyObjects"}
    # The class and the object exist on Google, made with the account's token (the fake checked
    # the assertion's signature with the public key), before the link was handed out.
    assert env.fake.token_requests == 1
    made = env.fake.objects[row.object_id]
    assert made["classId"] == named["classId"] in env.fake.classes
    assert made["state"] == "ACTIVE"
    assert made["barcode"] == {
        "type": "QR_CODE",
        "value": PHONE,
        "alternateText": "+7 916 123-45-67",
    }
    assert made["loyaltyPoints"] == {"label": "Баллы", "balance": {"string": balance}}
    assert balance == "150"
    assert env.fake.classes[named["classId"]]["hexBackgroundColor"] == "#1e1e1e"
    # The second click names the same card and makes nothing again.
    assert again[1]["payload"] == claims["payload"]
    assert [c[0] for c in env.fake.rest_calls()] == ["POST", "POST"]
    assert (row.version, row.synced_version, row.dirty_since) == (1, 1, None)


async def test_many_changes_in_a_minute_make_one_patch_within_googles_notification_quota(
    committed_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with google_env(committed_engine, tmp_path) as env:
        await add_to_wallet(env)
        for points in (10, 20, 30, 40, 50):
            await env.accrue(points)
        env.clock.now = datetime.now(UTC)
        early = await wallet_service.update_due(env.services, env.portal_id)
        env.clock.now += timedelta(seconds=61)
        settled = await wallet_service.update_due(env.services, env.portal_id)
        nothing_left = await wallet_service.update_due(env.services, env.portal_id)
        patches = env.fake.rest_calls("PATCH")
        balance = await env.balance_text()
        row = await env.row()
        # Three more changes, each settled and sent: Google tells the holder 3 times a day.
        told: list[bool] = []
        for _ in range(3):
            await env.accrue(1)
            env.clock.now = datetime.now(UTC) + timedelta(seconds=61)
            assert (await wallet_service.update_due(env.services, env.portal_id)).updated == 1
            told.append("notifyPreference" in (env.fake.rest_calls("PATCH")[-1][2] or {}))
        await env.accrue(1)
        env.clock.now = datetime.now(UTC) + timedelta(hours=24, seconds=61)
        await wallet_service.update_due(env.services, env.portal_id)
        told.append("notifyPreference" in (env.fake.rest_calls("PATCH")[-1][2] or {}))

    assert (early.updated, settled.updated, nothing_left.updated) == (0, 1, 0)
    assert len(patches) == 1
    _method, path, body = patches[0]
    assert path.endswith(f"/loyaltyObject/{row.object_id}")
    assert body is not None
    assert body["loyaltyPoints"]["balance"] == {"string": balance} == {"string": "150"}
    assert body["notifyPreference"] == "NOTIFY_ON_UPDATE"
    assert (row.version, row.synced_version, row.dirty_since) == (6, 6, None)
    assert told == [True, True, False, True]  # the first PATCH was the day's first notice


async def test_a_refused_update_waits_and_is_sent_again(
    committed_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with google_env(committed_engine, tmp_path, google_wallet_retry_seconds=60) as env:
        await add_to_wallet(env)
        await env.accrue(5)
        env.clock.now = datetime.now(UTC) + timedelta(seconds=61)
        env.fake.fail_next(1, 503)
        failed = await wallet_service.update_due(env.services, env.portal_id)
        waiting = await wallet_service.update_due(env.services, env.portal_id)
        row = await env.row()
        env.clock.now += timedelta(seconds=61)
        sent = await wallet_service.update_due(env.services, env.portal_id)
        balance = await env.balance_text()
        patched = env.fake.objects[row.object_id]["loyaltyPoints"]["balance"]

    assert (failed.failed, waiting.updated, waiting.failed, sent.updated) == (1, 0, 0, 1)
    assert row.attempts == 1
    assert "503" in row.last_error
    assert patched == {"string": balance}


async def test_google_not_answering_the_link_says_try_later(
    committed_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with google_env(committed_engine, tmp_path) as env:
        env.fake.fail_next(1, 500)
        answer = await env.client.get("/cabinet/wallet/google")
        retried = await add_to_wallet(env)
    assert answer.status_code == 503
    assert "Попробуйте позже" in answer.text
    assert retried[1]["typ"] == "savetowallet"


async def test_with_the_setting_off_nothing_is_called(
    committed_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with google_env(committed_engine, tmp_path, google_wallet_enabled=False) as env:
        answer = await env.client.get("/cabinet/wallet/google")
        await env.accrue(5)
        env.clock.now = datetime.now(UTC) + timedelta(hours=1)
        report = await wallet_service.update_due(env.services, env.portal_id)
        async with env.engine.connect() as conn:
            rows = await conn.scalar(text("SELECT count(*) FROM google_wallet_objects"))
    assert answer.status_code == 404
    assert (report.updated, report.failed) == (0, 0)
    assert rows == 0
    assert env.fake.token_requests == 0
    assert env.fake.rest_calls() == []


async def test_an_assertion_signed_by_another_key_gets_no_token(tmp_path: Path) -> None:
    info, _ = service_account_key()
    _, other_public = service_account_key()
    with FakeGoogleWallet() as fake:
        fake.add_account(EMAIL, public_pem(other_public))
        async with httpx.AsyncClient() as http:
            client = WalletClient(
                ServiceAccount.from_info(info), http, api_url=fake.api_url, token_uri=fake.token_uri
            )
            with pytest.raises(GoogleWalletError) as refused:
                await client.get("loyaltyObject", f"{fake.issuer_id}.x")
    assert refused.value.status == 400
    assert fake.rest_calls() == []


async def test_the_minute_tick_defers_the_portal_job_and_a_worker_sends_the_card(
    committed_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with google_env(committed_engine, tmp_path) as env:
        await add_to_wallet(env)
        for points in (7, 8):
            await env.accrue(points)
        env.clock.now = datetime.now(UTC) + timedelta(seconds=61)
        job_app = worker_app(env.services.database_url, pool_size=2)
        async with job_app.open_async():
            context = SimpleNamespace(app=job_app, additional_context={"services": env.services})
            await tick_job(context, 0)  # type: ignore[arg-type]
            await tick_job(context, 0)  # type: ignore[arg-type]  # one job waits already
        async with env.engine.connect() as conn:
            queued = (
                await conn.execute(
                    text(
                        "SELECT args FROM procrastinate_jobs "
                        "WHERE task_name = 'wallet.google.portal' AND status = 'todo'"
                    )
                )
            ).all()
        await run_worker(env.services, concurrency=1, wait=False, install_signal_handlers=False)
        patches = env.fake.rest_calls("PATCH")
        balance = await env.balance_text()
    assert [q.args for q in queued] == [{"portal_id": env.portal_id}]
    assert len(patches) == 1
    assert patches[0][2] is not None
    assert patches[0][2]["loyaltyPoints"]["balance"] == {"string": balance} == {"string": "15"}


async def test_a_blocked_card_makes_the_google_card_inactive(
    committed_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with google_env(committed_engine, tmp_path) as env:
        await add_to_wallet(env)

        async def block(conn: AsyncConnection) -> None:
            await conn.execute(
                text("UPDATE cards SET status = 'blocked' WHERE customer_id = :c"),
                {"c": env.customer_id},
            )

        await run_in_transaction(env.engine, block)
        env.clock.now = datetime.now(UTC) + timedelta(seconds=61)
        report = await wallet_service.update_due(env.services, env.portal_id)
        row = await env.row()
    assert report.updated == 1
    assert env.fake.objects[row.object_id]["state"] == "INACTIVE"


async def test_an_unreadable_key_file_keeps_google_wallet_off(
    committed_engine: AsyncEngine, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere.json"
    async with google_env(committed_engine, tmp_path, google_wallet_key_file=missing) as env:
        answer = await env.client.get("/cabinet/wallet/google")
    assert answer.status_code == 404
    assert env.fake.token_requests == 0
    assert env.fake.rest_calls() == []


async def test_the_cabinet_offers_the_button_only_when_google_wallet_is_ready(
    committed_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with google_env(committed_engine, tmp_path) as on:
        shown = wallet_service.offered(on.services)
    async with google_env(committed_engine, tmp_path, google_wallet_enabled=False) as off:
        hidden = wallet_service.offered(off.services)
    async with google_env(committed_engine, tmp_path, google_wallet_logo_url=None) as partial:
        unready = wallet_service.offered(partial.services)
    assert (shown, hidden, unready) == (True, False, False)


async def test_the_card_page_offers_the_google_button_only_when_configured(
    committed_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with google_env(committed_engine, tmp_path) as env:
        page = await env.client.get("/cabinet/card")
        assert page.status_code == 200
        assert 'id="google-wallet" href="/cabinet/wallet/google"' in page.text
    async with google_env(committed_engine, tmp_path, google_wallet_enabled=False) as env:
        page = await env.client.get("/cabinet/card")
        assert page.status_code == 200
        assert "google-wallet" not in page.text
