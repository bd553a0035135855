"""Migration 0007 on a database that has plaintext secrets: upgraded, they are encrypted with the
settings' key (and the app reads them); downgraded, they are plaintext again."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import make_url

from kopilka.db import crypto
from kopilka.db.migrate import alembic_config, upgrade
from tests.conftest import create_database, drop_database

REVISION = "0007"  # secrets at rest
HOOK = "https://shop.bitrix24.ru/rest/1/k8s2mq0vbz4c7x1d/"
PLAIN = {
    "webhook_url": HOOK,
    "access_token": "a11ce55a11ce55a11ce55a11ce55a11c",
    "refresh_token": "4ef4e5a4ef4e5a4ef4e5a4ef4e5a4ef4",
    "application_token": "6a0d6a0d6a0d6a0d6a0d6a0d6a0d6a0d",
}


@pytest.fixture
def database(pg_server: str) -> Iterator[str]:
    name = f"kopilka_m_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_server, name)
    yield url
    drop_database(pg_server, name)


def psql(url: str) -> psycopg.Connection[tuple[object, ...]]:
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(plain, autocommit=True)


def stored(url: str) -> dict[str, str | None]:
    with psql(url) as conn:
        row = conn.execute(
            "SELECT webhook_url, access_token, refresh_token, application_token "
            "FROM b24_connections"
        ).fetchone()
    assert row is not None
    return dict(zip(PLAIN, row, strict=True))  # type: ignore[arg-type]


def test_upgrade_encrypts_plaintext_rows_and_downgrade_restores_them(database: str) -> None:
    before = ScriptDirectory.from_config(alembic_config(database)).get_revision(REVISION)
    assert before is not None
    assert isinstance(before.down_revision, str)
    upgrade(database, before.down_revision)
    with psql(database) as conn:
        conn.execute("INSERT INTO portals (member_id, title) VALUES ('m1', 'shop')")
        conn.execute(
            "INSERT INTO b24_connections (portal_id, mode, domain, webhook_url, access_token, "
            "refresh_token, application_token) SELECT id, 'webhook', 'shop.bitrix24.ru', "
            "%(webhook_url)s, %(access_token)s, %(refresh_token)s, %(application_token)s "
            "FROM portals",
            PLAIN,
        )

    upgrade(database, REVISION)

    encrypted = stored(database)
    assert all(str(v).startswith("enc:v1:") for v in encrypted.values())
    assert not any(p in str(encrypted) for p in PLAIN.values())
    assert {k: crypto.current().decrypt(str(v)) for k, v in encrypted.items()} == PLAIN

    command.downgrade(alembic_config(database), before.down_revision)
    assert stored(database) == PLAIN
