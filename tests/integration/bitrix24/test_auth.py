"""Webhook and OAuth authentication against b24emu: tokens are refreshed once for all concurrent
callers, in one process and across processes sharing PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from b24emu import EmuServer, Portal
from kopilka.bitrix24 import errors as e
from kopilka.bitrix24.auth import (
    Grant,
    MemoryTokenStore,
    OAuthAuth,
    PgTokenStore,
    TokenStore,
    WebhookAuth,
)
from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.limiter import MemoryRateLimiter
from kopilka.db.engine import create_engine, run_in_transaction
from kopilka.db.tables import b24_connections
from kopilka.ledger.book import ensure_portal
from tests.factories import connect_app, ref

CLIENT_ID, SECRET = "local.kopilka.test", "the-client-secret-value"


@pytest.fixture
def portal(portal: Portal) -> Portal:
    """The shared portal, with Kopilka registered as an app."""
    portal.register_app(CLIENT_ID, SECRET, scopes=("crm",))
    return portal


def rotations(portal: Portal) -> int:
    """Token-endpoint refreshes the portal served (each one retires a refresh token)."""
    return sum(not token.valid for token in portal.auth.refresh.values())


def oauth(portal: Portal, store: TokenStore, **kw: Any) -> OAuthAuth:
    return OAuthAuth(
        client_endpoint=portal.client_endpoint,
        client_id=CLIENT_ID,
        client_secret=kw.pop("client_secret", SECRET),
        store=store,
        token_url=portal.oauth_token_url,
        **kw,
    )


def b24(auth: OAuthAuth | WebhookAuth) -> Bitrix24Client:
    return Bitrix24Client(auth, limiter=MemoryRateLimiter(interval=0.001, burst=1000))


def test_webhook_url_is_parsed_and_its_code_kept_secret() -> None:
    auth = WebhookAuth("https://example.bitrix24.ru/rest/7/8g9l071eismy9q2l")
    assert auth.domain == "example.bitrix24.ru"
    assert auth.user_id == 7
    assert auth.secrets() == ("8g9l071eismy9q2l",)
    assert "8g9l071eismy9q2l" not in repr(auth)
    with pytest.raises(ValueError, match="looks like") as bad:
        WebhookAuth("https://example.bitrix24.ru/rest/8g9l071eismy9q2l/")
    assert "8g9l071eismy9q2l" not in str(bad.value)


async def test_ten_concurrent_calls_refresh_once_after_expiry(
    portal: Portal, server: EmuServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx logs the token endpoint's URL, secrets in its query
    tokens = portal.issue_tokens(CLIENT_ID)
    store = MemoryTokenStore(tokens["access_token"], tokens["refresh_token"], 3600)
    auth = oauth(portal, store)
    async with b24(auth) as client:
        await client.call("crm.contact.list")
        portal.expire_access_tokens()  # expired at the portal, still fresh to us
        results = await asyncio.gather(*(client.call("crm.contact.list") for _ in range(10)))
    assert len(results) == 10
    assert rotations(portal) == 1
    assert auth.refreshes == 1
    assert client.refreshes == 1
    assert client.requests == 1 + 10 + 10  # ten refused, ten retried
    current = await store.load()
    assert current.version == 2
    assert current.access_token != tokens["access_token"]
    assert current.refresh_token != tokens["refresh_token"]
    assert "/oauth/token/" in caplog.text
    for secret in (SECRET, tokens["refresh_token"], current.access_token, current.refresh_token):
        assert secret not in caplog.text


async def test_tokens_close_to_expiry_are_refreshed_before_the_call(
    portal: Portal, server: EmuServer
) -> None:
    tokens = portal.issue_tokens(CLIENT_ID)
    store = MemoryTokenStore(tokens["access_token"], tokens["refresh_token"], expires_in=30)
    auth = oauth(portal, store)  # margin 60 s
    async with b24(auth) as client:
        await asyncio.gather(*(client.call("crm.contact.list") for _ in range(5)))
    assert rotations(portal) == 1
    assert client.refreshes == 1
    assert client.requests == 5  # no call was refused
    assert (await store.load()).remaining() > 3000


async def test_token_endpoint_refusals_are_typed_and_keep_secrets(
    portal: Portal, server: EmuServer
) -> None:
    tokens = portal.issue_tokens(CLIENT_ID)
    store = MemoryTokenStore(tokens["access_token"], tokens["refresh_token"], 3600)
    wrong = oauth(portal, store, client_secret="not-the-secret-value")
    portal.expire_access_tokens()
    async with b24(wrong) as client:
        with pytest.raises(e.B24InvalidCredentials) as caught:
            await client.call("crm.contact.list")
    assert caught.value.b24_error == "invalid_client"
    assert caught.value.method == "oauth.token"
    text_ = f"{caught.value} {caught.value!r} {wrong!r} {store!r} {await store.load()!r}"
    for secret in ("not-the-secret-value", tokens["refresh_token"], tokens["access_token"]):
        assert secret not in text_
    grant = Grant("a" * 32, "b" * 32, 3600)
    assert "a" * 32 not in repr(grant)
    assert "b" * 32 not in repr(grant)


# --- across processes: PgTokenStore ---------------------------------------------------------


@pytest.fixture
async def second_engine(committed_engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(committed_engine.url.render_as_string(hide_password=False))
    yield eng
    await eng.dispose()


async def test_two_processes_refresh_once_through_postgres(
    portal: Portal, server: EmuServer, committed_engine: AsyncEngine, second_engine: AsyncEngine
) -> None:
    portal_id, tokens = await connect_app(committed_engine, portal, CLIENT_ID)
    auths = [
        oauth(portal, PgTokenStore(eng, portal_id)) for eng in (committed_engine, second_engine)
    ]
    clients = [b24(a) for a in auths]
    for c in clients:
        await c.call("crm.contact.list")
    portal.expire_access_tokens()
    await asyncio.gather(*(c.call("crm.contact.list") for c in clients for _ in range(5)))
    for c in clients:
        await c.aclose()
    assert rotations(portal) == 1  # one token-endpoint call for both processes
    assert sum(a.refreshes for a in auths) == 1
    one, two = [await a.tokens() for a in auths]
    assert one.access_token == two.access_token != tokens["access_token"]
    assert one.version == two.version == 1
    async with committed_engine.connect() as conn:
        row = (
            await conn.execute(
                select(b24_connections).where(b24_connections.c.portal_id == portal_id)
            )
        ).one()
    assert row.access_token == one.access_token
    assert row.refresh_token == one.refresh_token != tokens["refresh_token"]
    assert row.token_version == 1
    assert 3000 < one.remaining() <= 3600


async def test_a_process_with_stale_tokens_takes_the_stored_ones(
    portal: Portal, server: EmuServer, committed_engine: AsyncEngine, second_engine: AsyncEngine
) -> None:
    portal_id, _ = await connect_app(committed_engine, portal, CLIENT_ID)
    first = oauth(portal, PgTokenStore(committed_engine, portal_id))
    late = oauth(portal, PgTokenStore(second_engine, portal_id))
    async with b24(first) as a, b24(late) as b:
        await a.call("crm.contact.list")
        await b.call("crm.contact.list")  # both cached version 0
        portal.expire_access_tokens()
        await a.call("crm.contact.list")  # the first process refreshes
        await b.call("crm.contact.list")  # the second is refused, finds version 1 stored
    assert rotations(portal) == 1
    assert (first.refreshes, late.refreshes) == (1, 0)
    assert b.refreshes == 0
    assert (await late.tokens()).version == 1


async def test_pg_store_without_tokens_is_an_auth_error(committed_engine: AsyncEngine) -> None:
    portal_id = await run_in_transaction(
        committed_engine, lambda c: ensure_portal(c, ref("member"))
    )
    store = PgTokenStore(committed_engine, portal_id)
    with pytest.raises(e.B24AuthError, match="no stored OAuth tokens"):
        await store.load()
    assert repr(store) == f"PgTokenStore(portal_id={portal_id})"
