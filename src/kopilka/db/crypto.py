"""Secrets at rest: credential columns are Fernet-encrypted with keys from the environment.

``KOPILKA_SECRET_KEYS`` holds comma-separated Fernet keys: the first encrypts, every one decrypts
(``MultiFernet``), so a key is rotated by putting a new one first, running ``kopilka secrets
rotate``, and then dropping the old one. Unset in development and test, a key file
``<data_dir>/secret.key`` (mode 0600) is made once and used; production refuses to start.

A stored value reads ``enc:v1:<Fernet token>``: the prefix makes ciphertext and plaintext
impossible to confuse, and the database refuses a secret column value without it (migration
0007). Columns declare themselves with :class:`EncryptedText`; raw SQL binds and reads through
the same type (``bindparam(..., type_=EncryptedText())``, ``text(...).columns(...)``).

Fernet is randomised: an encrypted column cannot be compared or searched in SQL.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

from kopilka.config import Environment, Settings, get_settings
from kopilka.domain.errors import KopilkaError

PREFIX = "enc:v1:"
SETTING = "KOPILKA_SECRET_KEYS"
KEY_FILE = "secret.key"
NEW_KEY_HINT = "make one with `kopilka secrets new-key`"


class SecretKeyError(KopilkaError):
    """The keys are missing, malformed, or not the ones the stored secrets were encrypted with.
    Its message names the setting and never holds a key or a secret."""

    code = "secret_key"


class Keyring:
    """The keys of this process; the first encrypts."""

    def __init__(self, keys: Sequence[bytes], source: str) -> None:
        if not keys:
            raise SecretKeyError(f"{source} holds no key: {NEW_KEY_HINT}")
        fernets = []
        for n, key in enumerate(keys, 1):
            try:
                fernets.append(Fernet(key))
            except (ValueError, TypeError):
                raise SecretKeyError(
                    f"{source}: key {n} is not a Fernet key (44 characters of url-safe base64); "
                    f"{NEW_KEY_HINT}"
                ) from None
        self._fernet = MultiFernet(fernets)
        self.size = len(fernets)
        self.source = source

    def __repr__(self) -> str:  # never the keys
        return f"Keyring({self.size} key(s) from {self.source})"

    def encrypt(self, plain: str) -> str:
        return PREFIX + self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, stored: str) -> str:
        try:
            return self._fernet.decrypt(self._token(stored)).decode()
        except InvalidToken:
            raise self._wrong_key() from None

    def rotate(self, stored: str) -> str:
        """The value re-encrypted with the first key."""
        try:
            return PREFIX + self._fernet.rotate(self._token(stored)).decode()
        except InvalidToken:
            raise self._wrong_key() from None

    @staticmethod
    def _token(stored: str) -> bytes:
        if not stored.startswith(PREFIX):
            raise SecretKeyError("a secret column holds a value that is not encrypted")
        return stored[len(PREFIX) :].encode()

    def _wrong_key(self) -> SecretKeyError:
        return SecretKeyError(
            f"a stored secret cannot be decrypted with the keys of {self.source}: the key it was "
            f"encrypted with is missing (list it in {SETTING}, after the new one)"
        )


def parse_keys(raw: str) -> list[bytes]:
    return [part.strip().encode() for part in raw.split(",") if part.strip()]


def new_key() -> str:
    return Fernet.generate_key().decode()


def _key_file(data_dir: Path) -> Path:
    """The development key, made once (atomically: concurrent first starts agree on one key)."""
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd, draft = tempfile.mkstemp(prefix=f".{KEY_FILE}.", dir=data_dir)  # mode 0600
        try:
            with os.fdopen(fd, "w") as f:
                f.write(new_key() + "\n")
            os.link(draft, path)  # fails if another process made it first; then use theirs
        except FileExistsError:
            pass
        finally:
            os.unlink(draft)
    return path


def load_keyring(settings: Settings) -> Keyring:
    """The keys the settings name; in development and test a key file when none is set."""
    if settings.secret_keys is not None and settings.secret_keys.get_secret_value().strip():
        return Keyring(parse_keys(settings.secret_keys.get_secret_value()), SETTING)
    if settings.env == Environment.production:
        raise SecretKeyError(
            f"{SETTING} is not set: in production Kopilka will not start without the key that "
            f"encrypts the stored Bitrix24 tokens and webhook URLs; {NEW_KEY_HINT}, set it, "
            "and back it up apart from the database"
        )
    path = _key_file(settings.data_dir)
    return Keyring(parse_keys(path.read_text(encoding="ascii")), f"the key file {path}")


_current: Keyring | None = None


def configure(settings: Settings) -> Keyring:
    """Load the settings' keys for this process (at start: a missing key fails early)."""
    global _current
    _current = load_keyring(settings)
    return _current


def use(keyring: Keyring | None) -> None:
    """Make ``keyring`` this process's (None: load from the settings on next use)."""
    global _current
    _current = keyring


def current() -> Keyring:
    return _current if _current is not None else configure(get_settings())


class EncryptedText(TypeDecorator[str]):
    """A TEXT column whose values are stored encrypted with the process's keyring."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else current().encrypt(value)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else current().decrypt(value)


__all__ = [
    "PREFIX",
    "SETTING",
    "EncryptedText",
    "Keyring",
    "SecretKeyError",
    "configure",
    "current",
    "load_keyring",
    "new_key",
    "use",
]
