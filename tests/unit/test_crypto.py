"""The keys of the stored secrets: where they come from, what a stored value looks like, and
errors that name the setting and never a key or a secret."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from kopilka.bitrix24.connections import Connection
from kopilka.config import Environment, Settings
from kopilka.db import crypto

SECRET = "https://shop.bitrix24.ru/rest/1/k8s2mq0vbz4c7x1d/"


def settings(tmp_path: Path, env: Environment, keys: str | None = None) -> Settings:
    return Settings(
        env=env, data_dir=tmp_path / "data", secret_keys=SecretStr(keys) if keys else None
    )


def test_a_value_is_stored_as_prefixed_ciphertext_and_read_back() -> None:
    ring = crypto.Keyring([Fernet.generate_key()], crypto.SETTING)
    stored = ring.encrypt(SECRET)
    assert stored.startswith("enc:v1:")
    assert "k8s2mq0vbz4c7x1d" not in stored
    assert ring.encrypt(SECRET) != stored  # randomised: no equality search on ciphertext
    assert ring.decrypt(stored) == SECRET


def test_plaintext_is_never_taken_for_ciphertext() -> None:
    ring = crypto.Keyring([Fernet.generate_key()], crypto.SETTING)
    with pytest.raises(crypto.SecretKeyError, match="not encrypted") as refused:
        ring.decrypt(SECRET)
    assert SECRET not in str(refused.value)


def test_the_keys_come_from_the_setting_first_one_encrypting(tmp_path: Path) -> None:
    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    ring = crypto.load_keyring(settings(tmp_path, Environment.production, f" {new} , {old},"))
    assert ring.size == 2
    assert Fernet(new.encode()).decrypt(ring.encrypt("x").removeprefix("enc:v1:").encode())
    assert ring.decrypt("enc:v1:" + Fernet(old.encode()).encrypt(b"y").decode()) == "y"
    assert new not in repr(ring)
    assert old not in repr(ring)
    assert not (tmp_path / "data").exists()  # a configured key makes no key file


def test_a_wrong_key_names_the_setting_and_nothing_secret(tmp_path: Path) -> None:
    stored = crypto.Keyring([Fernet.generate_key()], crypto.SETTING).encrypt(SECRET)
    other = Fernet.generate_key().decode()
    ring = crypto.load_keyring(settings(tmp_path, Environment.production, other))
    with pytest.raises(crypto.SecretKeyError) as wrong:
        ring.decrypt(stored)
    message = str(wrong.value)
    assert "KOPILKA_SECRET_KEYS" in message
    assert other not in message
    assert "k8s2mq0vbz4c7x1d" not in message
    assert wrong.value.__cause__ is None
    assert wrong.value.__suppress_context__


def test_a_malformed_key_names_the_setting_not_the_value(tmp_path: Path) -> None:
    with pytest.raises(crypto.SecretKeyError, match=r"KOPILKA_SECRET_KEYS: key 2 is not") as bad:
        crypto.load_keyring(
            settings(tmp_path, Environment.production, f"{Fernet.generate_key().decode()},hunter2")
        )
    assert "hunter2" not in str(bad.value)


def test_production_without_a_key_refuses(tmp_path: Path) -> None:
    with pytest.raises(crypto.SecretKeyError, match=r"KOPILKA_SECRET_KEYS is not set"):
        crypto.load_keyring(settings(tmp_path, Environment.production))
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("env", [Environment.development, Environment.test])
def test_development_makes_a_private_key_file_once(tmp_path: Path, env: Environment) -> None:
    first = crypto.load_keyring(settings(tmp_path, env))
    key_file = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in key_file.parent.iterdir()] == ["secret.key"]  # no draft left
    stored = first.encrypt(SECRET)
    again = crypto.load_keyring(settings(tmp_path, env))
    assert again.decrypt(stored) == SECRET  # the same key, not a new one
    assert str(key_file) in again.source


def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        rings = list(
            pool.map(lambda _: crypto.load_keyring(settings(tmp_path, Environment.test)), range(8))
        )
    stored = rings[0].encrypt(SECRET)
    assert all(ring.decrypt(stored) == SECRET for ring in rings)
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["secret.key"]


def test_an_application_token_check_takes_any_guess() -> None:
    connection = Connection(
        portal_id=1,
        member_id="m",
        mode="webhook",
        client_id=None,
        domain="shop.bitrix24.ru",
        webhook_url=SECRET,
        client_endpoint=None,
        application_token="3f0a8c1d2e4b5a6978c0d1e2f3a4b5c6",
        field_map={},
        status="active",
    )
    assert connection.token_matches("3f0a8c1d2e4b5a6978c0d1e2f3a4b5c6")
    assert not connection.token_matches("3f0a8c1d2e4b5a6978c0d1e2f3a4b5c7")
    assert not connection.token_matches("токен")  # non-ASCII: a mismatch, not a TypeError
    assert not connection.token_matches(None)
