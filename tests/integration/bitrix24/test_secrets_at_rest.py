"""Secrets at rest on real PostgreSQL: what `kopilka connect` stores and what an OAuth refresh
writes are ciphertext in the columns, the app reads them back, the database refuses plaintext,
and a key rotation re-encrypts every value so that the old key can go."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from b24emu import EmuServer, Portal
from kopilka.bitrix24.auth import OAuthAuth, PgTokenStore
from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.connections import connect_webhook, get_connection
from kopilka.bitrix24.limiter import MemoryRateLimiter
from kopilka.db import crypto
from kopilka.db.engine import run_in_transaction
from kopilka.db.rotation import rotate_secrets
from tests.factories import connect_app

CLIENT_ID, SECRET = "local.kopilka.secrets", "the-client-secret-value"
COLUMNS = ("webhook_url", "access_token", "refresh_token", "application_token")
EVENT_TOKEN = "9c1e0f3a7b2d4c5e6f708192a3b4c5d6"


def keyring(*keys: str) -> crypto.Keyring:
    return crypto.Keyring([k.encode() for k in keys], crypto.SETTING)


@pytest.fixture
def old_key() -> Iterator[str]:
    """This test's own key as the process's keyring (the suite's is put back after)."""
    before = crypto.current()
    key = Fernet.generate_key().decode()
    crypto.use(keyring(key))
    yield key
    crypto.use(before)


async def raw_rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    """The columns as stored, read with plain SQL (no decrypting type)."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(f"SELECT portal_id, {', '.join(COLUMNS)} FROM b24_connections ORDER BY 1")  # noqa: S608
        )
        return [dict(r._mapping) for r in rows]


def stored_values(rows: list[dict[str, Any]]) -> list[str]:
    return [r[c] for r in rows for c in COLUMNS if r[c] is not None]


async def connect_both(engine: AsyncEngine, portal: Portal) -> tuple[int, int, dict[str, Any]]:
    """A webhook portal as `kopilka connect` stores it, and an app portal with OAuth tokens."""
    webhook = portal.add_webhook(user_id=1, scopes=("crm",))
    portal.register_app(CLIENT_ID, SECRET, scopes=("crm",))
    hooked = await run_in_transaction(
        engine,
        lambda conn: connect_webhook(conn, webhook_url=webhook, event_token=EVENT_TOKEN),
    )
    app_portal, tokens = await connect_app(
        engine,
        portal,
        CLIENT_ID,
        application_token=portal.auth.apps[CLIENT_ID].application_token,
    )
    return hooked.portal_id, app_portal, {"webhook": webhook, **tokens}


async def refresh(engine: AsyncEngine, portal: Portal, portal_id: int) -> OAuthAuth:
    """Make the portal expire the access token, then call it: PgTokenStore.rotate stores new
    tokens."""
    auth = OAuthAuth(
        client_endpoint=portal.client_endpoint,
        client_id=CLIENT_ID,
        client_secret=SECRET,
        store=PgTokenStore(engine, portal_id),
        token_url=portal.oauth_token_url,
    )
    async with Bitrix24Client(auth, limiter=MemoryRateLimiter(interval=0.001, burst=100)) as c:
        await c.call("crm.contact.list")
        portal.expire_access_tokens()
        await c.call("crm.contact.list")
    assert auth.refreshes == 1
    return auth


async def test_connect_and_a_token_refresh_store_only_ciphertext(
    portal: Portal, server: EmuServer, committed_engine: AsyncEngine
) -> None:
    hooked, app_portal, given = await connect_both(committed_engine, portal)
    auth = await refresh(committed_engine, portal, app_portal)
    fresh = await auth.tokens()
    code = given["webhook"].rstrip("/").rsplit("/", 1)[1]
    secrets = [
        code,
        EVENT_TOKEN,
        portal.auth.apps[CLIENT_ID].application_token,
        given["access_token"],
        given["refresh_token"],
        fresh.access_token,
        fresh.refresh_token,
    ]
    rows = await raw_rows(committed_engine)
    values = stored_values(rows)
    assert len(values) == 5  # webhook_url + event token; access, refresh, application token
    assert all(v.startswith("enc:v1:") for v in values)
    dump = " ".join(values)
    assert [s for s in secrets if s in dump] == []
    # The app still reads them: the connection and the refreshed tokens come back in clear.
    async with committed_engine.connect() as conn:
        connection = await get_connection(conn, hooked)
    assert connection.webhook_url == given["webhook"]
    assert connection.token_matches(EVENT_TOKEN)
    assert not connection.token_matches(EVENT_TOKEN[:-1] + "0")
    again = await PgTokenStore(committed_engine, app_portal).load()
    assert (again.access_token, again.refresh_token) == (fresh.access_token, fresh.refresh_token)


async def test_the_database_refuses_a_secret_in_clear(
    committed_engine: AsyncEngine, portal_id: int
) -> None:
    with pytest.raises(IntegrityError, match="application_token_encrypted"):
        async with committed_engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO b24_connections (portal_id, mode, webhook_url, application_token)"
                    " VALUES (:p, 'webhook', :u, :t)"
                ),
                {"p": portal_id, "u": crypto.current().encrypt("https://x/rest/1/c/"), "t": "t"},
            )


async def test_rotation_re_encrypts_everything_and_the_old_key_can_go(
    portal: Portal, server: EmuServer, committed_engine: AsyncEngine, old_key: str
) -> None:
    hooked, app_portal, given = await connect_both(committed_engine, portal)
    before = stored_values(await raw_rows(committed_engine))
    new_key = Fernet.generate_key().decode()
    both = keyring(new_key, old_key)
    crypto.use(both)

    rewritten = await run_in_transaction(committed_engine, lambda c: rotate_secrets(c, both))

    assert rewritten == len(before) == 5
    after = stored_values(await raw_rows(committed_engine))
    assert set(after).isdisjoint(before)
    new_only = keyring(new_key)
    assert [new_only.decrypt(v) for v in after] == [both.decrypt(v) for v in before]
    crypto.use(new_only)  # the old key removed: everything still works
    async with committed_engine.connect() as conn:
        assert (await get_connection(conn, hooked)).webhook_url == given["webhook"]
    await refresh(committed_engine, portal, app_portal)
    crypto.use(keyring(old_key))  # the old key alone reads nothing now
    with pytest.raises(crypto.SecretKeyError, match=crypto.SETTING) as wrong:
        async with committed_engine.connect() as conn:
            await get_connection(conn, hooked)
    assert old_key not in str(wrong.value)
    assert given["webhook"] not in str(wrong.value)


async def test_rotation_with_a_wrong_key_writes_nothing(
    portal: Portal, server: EmuServer, committed_engine: AsyncEngine, old_key: str
) -> None:
    await connect_both(committed_engine, portal)
    before = await raw_rows(committed_engine)
    stranger = keyring(Fernet.generate_key().decode())
    with pytest.raises(crypto.SecretKeyError, match="key it was encrypted with is missing"):
        await run_in_transaction(committed_engine, lambda c: rotate_secrets(c, stranger))
    assert await raw_rows(committed_engine) == before
