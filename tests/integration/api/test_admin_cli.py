"""Admin pages (password login, search, a customer's ledger) and the api-key CLI."""

from __future__ import annotations

import re

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from typer.testing import CliRunner

from kopilka.admin.passwords import hash_password, verify_password
from kopilka.cli.app import app as cli
from kopilka.config import get_settings
from tests.integration.api.conftest import ApiEnv


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


async def test_admin_login_search_and_customer_page(api: ApiEnv) -> None:
    async with api.engine.connect() as conn:
        portal = await conn.scalar(
            text("SELECT member_id FROM portals WHERE id = :p"), {"p": api.portal_id}
        )
    services = api.client._transport.app.state.services  # type: ignore[attr-defined]
    services.settings = services.settings.model_copy(
        update={"cabinet_portal": portal, "admin_password_hash": SecretStr(hash_password("s3cret"))}
    )
    anna = await api.customer("+79031234567", points=700, name="Анна Кузнецова")

    assert (await api.client.get("/admin/customers")).status_code == 303
    page = await api.client.get("/admin/login")
    token = csrf_of(page.text)
    wrong = await api.client.post("/admin/login", data={"password": "nope", "csrf": token})
    assert wrong.status_code == 401
    forged = await api.client.post("/admin/login", data={"password": "s3cret", "csrf": "x"})
    assert forged.status_code == 403
    ok = await api.client.post("/admin/login", data={"password": "s3cret", "csrf": token})
    assert ok.status_code == 303

    for q in ("Кузнец", "8 903 123-45-67", "1234567"):
        found = await api.client.get("/admin/customers", params={"q": q})
        assert f"/admin/customers/{anna}" in found.text, q
    nobody = await api.client.get("/admin/customers", params={"q": "Зиновий"})
    assert f"/admin/customers/{anna}" not in nobody.text

    body = {
        "customer": {"customer_id": anna},
        "order_id": "A-1",
        "lines": [{"id": "1", "price": 100_000}],
        "pay_points": 20_000,
    }
    await api.client.post(
        "/api/v1/pos/hold", json=body, headers=api.auth() | {"Idempotency-Key": "adm-1"}
    )
    card = await api.client.get(f"/admin/customers/{anna}")
    assert card.status_code == 200
    assert "стартовые баллы" in card.text
    assert "pos:A-1" in card.text  # the hold
    assert "+79031234567" in card.text  # the card
    assert (await api.client.get("/admin/customers/999999999")).status_code == 404

    out = await api.client.post("/admin/logout", data={"csrf": csrf_of(card.text)})
    assert out.status_code == 303
    assert (await api.client.get("/admin/customers")).status_code == 303


def test_passwords() -> None:
    stored = hash_password("pässword", iterations=1000)
    assert verify_password("pässword", stored)
    assert not verify_password("password", stored)
    assert not verify_password("x", "garbage")
    with pytest.raises(ValueError, match="empty"):
        hash_password("")


async def test_api_key_cli(api: ApiEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    url = api.engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("KOPILKA_DATABASE_URL", url)
    monkeypatch.setenv("KOPILKA_DEFAULT_PORTAL", "cli-portal")
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        made = await asyncio.to_thread(
            runner.invoke, cli, ["api-key", "create", "--name", "till-9", "--scope", "pos:write"]
        )
        assert made.exit_code == 0, made.output
        key = made.output.strip()
        assert key.startswith("kop_")
        listed = await asyncio.to_thread(runner.invoke, cli, ["api-key", "list"])
        assert "till-9" in listed.output
        assert "active" in listed.output
        bad = await asyncio.to_thread(
            runner.invoke, cli, ["api-key", "create", "--name", "x", "--scope", "all"]
        )
        assert bad.exit_code != 0
        prefix = key.split("_")[1]
        gone = await asyncio.to_thread(runner.invoke, cli, ["api-key", "revoke", prefix])
        assert gone.exit_code == 0, gone.output
        again = await asyncio.to_thread(runner.invoke, cli, ["api-key", "revoke", prefix])
        assert again.exit_code == 1
    finally:
        get_settings.cache_clear()
