"""`kopilka connect` stores the webhook encrypted; `kopilka secrets rotate` moves every secret to
a new key, after which the old one can go; a wrong or missing key stops a command with a message
naming the setting, not a traceback; production without a key does not start."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import make_url
from typer.testing import CliRunner

from b24emu import EmuServer
from kopilka.cli import app
from kopilka.config import get_settings
from kopilka.db import crypto
from kopilka.process.devstack import emulated_portal
from tests.e2e.conftest import TRAVEL, kopilka


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Set KOPILKA_SECRET_KEYS per step; the suite's keyring is put back after."""
    before = crypto.current()
    yield monkeypatch
    crypto.use(before)
    get_settings.cache_clear()


def use_keys(keys: pytest.MonkeyPatch, *values: str) -> None:
    keys.setenv("KOPILKA_SECRET_KEYS", ",".join(values))
    get_settings.cache_clear()


def stored(url: str) -> list[str]:
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as conn:
        row = conn.execute("SELECT webhook_url, application_token FROM b24_connections").fetchone()
    assert row is not None
    return [str(v) for v in row]


def test_connect_rotate_and_drop_the_old_key(database: str, keys: pytest.MonkeyPatch) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    use_keys(keys, old)
    portal = emulated_portal()
    with EmuServer(portal):
        webhook = portal.add_webhook(user_id=1, scopes=("crm", "user"))
        token = portal.add_outgoing_webhook("http://127.0.0.1:9/b24/events", ("ONCRMDEALUPDATE",))
        code, out = kopilka(
            "connect", "--webhook", webhook, "--event-token", token, "--program", TRAVEL
        )
        assert code == 0, out
        hook_code = webhook.rstrip("/").rsplit("/", 1)[1]
        first = stored(database)
        assert all(v.startswith("enc:v1:") for v in first)
        assert hook_code not in str(first)
        assert token not in str(first)

        use_keys(keys, new, old)
        code, out = kopilka("secrets", "rotate")
        assert (code, out.strip()) == (0, "re-encrypted 2 secret value(s) with the first key")
        assert set(stored(database)).isdisjoint(first)

        use_keys(keys, new)  # the old key removed: the portal is still reached
        code, out = kopilka("sync", "--all")
        assert code == 0, out
        assert "0 deals checked" in out

        use_keys(keys, old)  # only the retired key: a clear refusal, nothing secret shown
        result = CliRunner().invoke(app, ["sync", "--all"])
        assert result.exit_code == 2
        assert "KOPILKA_SECRET_KEYS" in result.output
        assert "Traceback" not in result.output
        for secret in (old, hook_code, token):
            assert secret not in result.output


@pytest.mark.parametrize("command", [["db", "upgrade"], ["worker"], ["secrets", "rotate"]])
def test_production_without_a_key_does_not_start(
    database: str, keys: pytest.MonkeyPatch, command: list[str]
) -> None:
    keys.setenv("KOPILKA_ENV", "production")
    keys.delenv("KOPILKA_SECRET_KEYS")
    get_settings.cache_clear()
    code, out = kopilka(*command)
    assert code == 2
    assert "KOPILKA_SECRET_KEYS is not set" in out
    assert "kopilka secrets new-key" in out


def test_new_key_prints_a_usable_key() -> None:
    code, out = kopilka("secrets", "new-key")
    assert code == 0
    assert Fernet(out.strip().encode()).decrypt(Fernet(out.strip().encode()).encrypt(b"x"))
