"""The shop's logo at an https address: shown, and its origin — only it — allowed in the
page's Content-Security-Policy; the page is in the program's language whatever the browser's."""

from __future__ import annotations

from pathlib import Path

import httpx
import yaml
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.config import Settings
from kopilka.db.engine import run_in_transaction
from kopilka.ledger.book import ensure_portal
from kopilka.lifecycle.service import install_program
from kopilka.process.services import Services
from kopilka.program.loader import parse_program
from kopilka.web.app import create_app
from tests.factories import ref

EXAMPLE = Path(__file__).parents[3] / "examples" / "car-service.yaml"


async def test_the_logo_and_its_origin_in_the_policy(committed_engine: AsyncEngine) -> None:
    data = yaml.safe_load(EXAMPLE.read_text("utf-8"))
    data["shop"] = {"name": "Колесо", "logo": "https://cdn.koleso.example:8443/img/logo.png"}
    source = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    member = ref("shop")

    async def seed(conn: AsyncConnection) -> None:
        portal_id = await ensure_portal(conn, member)
        await install_program(conn, portal_id, parse_program(source, "p.yaml"), source)

    await run_in_transaction(committed_engine, seed)
    url = committed_engine.url.render_as_string(hide_password=False)
    services = Services(
        engine=committed_engine, database_url=url, settings=Settings(cabinet_portal=member)
    )
    transport = httpx.ASGITransport(app=create_app(services))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            page = await client.get("/cabinet/login", headers={"Accept-Language": "en-US"})
    finally:
        await services.aclose()
    assert page.status_code == 200
    assert 'src="https://cdn.koleso.example:8443/img/logo.png"' in page.text
    assert "Вход в личный кабинет · Колесо" in page.text  # the program's Russian
    policy = page.headers["content-security-policy"]
    assert "img-src 'self' data: https://cdn.koleso.example:8443;" in policy
