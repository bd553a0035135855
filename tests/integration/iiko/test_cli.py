"""``kopilka iiko connect | sync | status`` against the fake iikoCloud: a wrong login is refused
and stores nothing; the wallets are levelled; status shows them and a spend not honoured."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from kopilka.cli.app import app as cli
from kopilka.config import get_settings
from tests.integration.iiko.conftest import LOGIN, Restaurant

PHONE = "+79161234599"


async def test_connect_sync_status(restaurant: Restaurant, monkeypatch: pytest.MonkeyPatch) -> None:
    r = restaurant
    customer = await r.api.customer(PHONE, points=120)
    async with r.api.engine.connect() as conn:
        member = await conn.scalar(
            text("SELECT member_id FROM portals WHERE id = :p"), {"p": r.api.portal_id}
        )
        await conn.execute(text("DELETE FROM iiko_links"))
        await conn.commit()
    monkeypatch.setenv(
        "KOPILKA_DATABASE_URL", r.api.engine.url.render_as_string(hide_password=False)
    )
    monkeypatch.setenv("KOPILKA_IIKO_MIN_INTERVAL", "0")
    get_settings.cache_clear()
    runner = CliRunner()

    def kopilka(*args: str) -> tuple[int, str]:
        done = runner.invoke(cli, ["iiko", *args, "--portal", str(member)])
        return done.exit_code, done.output

    try:
        common = ["--organization", r.fake.organization_id, "--url", r.fake.url]
        wrong = await asyncio.to_thread(kopilka, "connect", "--api-key", "wrong", *common)
        assert wrong[0] != 0
        assert "refused" in wrong[1]
        missing = await asyncio.to_thread(kopilka, "status")
        assert missing[0] != 0  # nothing was stored
        linked = await asyncio.to_thread(kopilka, "connect", "--api-key", LOGIN, *common)
        assert linked[0] == 0, linked[1]
        synced = await asyncio.to_thread(kopilka, "sync")
        assert synced[0] == 0, synced[1]
        assert r.wallet(PHONE) == 120_00 == await r.available(customer)
        shown = await asyncio.to_thread(kopilka, "status")
        assert shown[0] == 0, shown[1]
        assert f"{PHONE}: wallet 120.00" in shown[1]
    finally:
        get_settings.cache_clear()
