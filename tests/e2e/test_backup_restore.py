"""The restore drill (issue 16): a connected portal with a ledger, a waiting job and outbox rows
is backed up with `kopilka backup`, restored with `kopilka restore` into a fresh, empty database,
and there `kopilka verify` passes, the balances are the same and every table holds the same
rows. A restore never writes into a database that has tables; the password never shows."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url

from b24emu import EmuServer
from kopilka.bitrix24.deferred import SYNC_TASK
from kopilka.config import get_settings
from kopilka.db.engine import create_engine, run_in_transaction
from kopilka.process.devstack import emulated_portal
from kopilka.process.queue import defer_once
from tests.conftest import create_database, drop_database
from tests.e2e.conftest import TRAVEL, call, kopilka

pytestmark = pytest.mark.timeout(240)

JUNE = "2026-06-01T10:00:00+03:00"
PASSWORD = "s3cret-Пароль"  # the test server trusts its socket: any password passes


def plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def tables(url: str) -> dict[str, tuple[int, str]]:
    """Every table's row count and a digest of its rows (in a fixed order): an oracle computed
    by PostgreSQL, not by Kopilka's queries."""
    with psycopg.connect(plain(url)) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        result = {}
        for name in names:
            rows = "string_agg(t::text, E'\\n' ORDER BY t::text)"
            row = conn.execute(
                f"SELECT count(*), md5(coalesce({rows}, '')) FROM \"{name}\" t"  # noqa: S608
            ).fetchone()
            assert row is not None
            result[name] = (row[0], row[1])
    return result


@pytest.fixture
def fresh(pg_server: str) -> Iterator[str]:
    """An empty database (no template, no migrations), with a password in its URL."""
    name = f"kopilka_restore_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_server, name)
    yield make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)
    drop_database(pg_server, name)


async def defer_a_job(url: str) -> None:
    engine = create_engine(url)
    try:

        async def unit(conn):  # type: ignore[no-untyped-def]
            return await defer_once(conn, SYNC_TASK, "drill:sync", portal_id=1)

        assert await run_in_transaction(engine, unit)
    finally:
        await engine.dispose()


def test_restore_drill(
    database: str, fresh: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    portal = emulated_portal("empty")
    with EmuServer(portal):
        anna = int(call(portal, "crm.contact.add", {"fields": {"NAME": "Анна"}}))
        webhook = portal.add_webhook(user_id=1, scopes=("crm", "user", "lists"))
        token = portal.add_outgoing_webhook("http://127.0.0.1:9/b24/events", ("ONCRMDEALUPDATE",))
        code, output = kopilka(
            "connect", "--webhook", webhook, "--event-token", token, "--program", TRAVEL,
            "--member-id", portal.member_id,
        )  # fmt: skip
        assert code == 0, output
        assert kopilka("provision")[0] == 0
        for args in (("--reason", "review"), ("--reason", "apology", "--amount", "700",
                                                "--comment", "опоздание")):  # fmt: skip
            code, output = kopilka("grant", str(anna), *args, "--now", JUNE)
            assert code == 0, output
    asyncio.run(defer_a_job(database))
    before = tables(database)
    for table in ("ledger_entries", "b24_connections", "b24_outbox", "procrastinate_jobs"):
        assert before[table][0] > 0, (table, before[table])
    assert before["notification_events"][0] + before["notifications"][0] > 0
    code, balance_before = kopilka("balance", str(anna), "--json", "--now", JUNE)
    assert code == 0, balance_before
    assert json.loads(balance_before)["available"] == 120_000  # 500 + 700 points, in kopecks

    backup = tmp_path / "kopilka.dump"
    code, output = kopilka("backup", str(backup))
    assert code == 0, output
    assert backup.stat().st_size > 0
    assert list(tmp_path.iterdir()) == [backup]  # no partial file left beside it
    code, output = kopilka("backup", str(backup))
    assert code == 2
    assert "already exists" in output
    code, output = kopilka("backup", str(backup), "--force")  # replaced, still whole
    assert code == 0, output
    assert list(tmp_path.iterdir()) == [backup]

    monkeypatch.setenv("KOPILKA_DATABASE_URL", fresh)
    get_settings.cache_clear()
    code, output = kopilka("restore", str(backup))
    assert code == 0, output
    assert "restored" in output
    assert PASSWORD not in output
    assert "***" in output  # the URL is named, its password hidden

    code, output = kopilka("verify")
    assert code == 0, output
    assert "ledger invariants hold" in output
    assert kopilka("balance", str(anna), "--json", "--now", JUNE) == (0, balance_before)
    assert tables(fresh) == before

    # Restoring again into the database that now has tables is refused, and changes nothing.
    code, output = kopilka("restore", str(backup))
    assert code == 2
    assert "the database is not empty" in output
    assert tables(fresh) == before


def test_a_failed_backup_names_no_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "KOPILKA_DATABASE_URL", f"postgresql://kopilka:{PASSWORD}@127.0.0.1:9/kopilka"
    )
    get_settings.cache_clear()
    try:
        code, output = kopilka("backup", str(tmp_path / "x.dump"))
    finally:
        get_settings.cache_clear()
    assert code == 2
    assert "127.0.0.1" in output  # the failure says where it tried
    assert PASSWORD not in output
    assert not list(tmp_path.iterdir())


def test_a_restore_refuses_a_file_that_is_no_backup(
    fresh: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("not a dump\n")
    monkeypatch.setenv("KOPILKA_DATABASE_URL", fresh)
    get_settings.cache_clear()
    try:
        code, output = kopilka("restore", str(junk))
    finally:
        get_settings.cache_clear()
    assert code == 2
    assert "is it a `kopilka backup`?" in output
    assert tables(fresh) == {}
