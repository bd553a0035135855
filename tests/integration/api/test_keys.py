"""API keys and the one error shape, on a real database through a real FastAPI app."""

from types import SimpleNamespace
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.api.errors import install_error_handlers
from kopilka.api.keys import ApiPrincipal, create_api_key, require_scope, revoke_api_key
from kopilka.ledger.book import ensure_portal


class Body(BaseModel):
    phone: str
    amount: int


def _app(engine: AsyncEngine) -> FastAPI:
    app = FastAPI()
    app.state.services = SimpleNamespace(engine=engine)
    install_error_handlers(app)

    @app.post("/api/v1/echo")
    async def echo(
        body: Body, who: Annotated[ApiPrincipal, Depends(require_scope("cards:read"))]
    ) -> dict[str, object]:
        return {"portal_id": who.portal_id, "amount": body.amount}

    return app


@pytest.fixture
async def client(committed_engine: AsyncEngine) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=_app(committed_engine))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_key_scopes_and_revocation(
    committed_engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    async with committed_engine.begin() as conn:
        portal_id = await ensure_portal(conn, "member-api")
        reader = await create_api_key(conn, portal_id, "site", ["cards:read"])
        pos = await create_api_key(conn, portal_id, "till", ["pos:write"])
        stored = (await conn.execute(text("SELECT key_hash FROM api_keys"))).scalars().all()
    assert reader not in stored  # only hashes are kept
    assert pos not in stored

    body = {"phone": "+79123456789", "amount": 5}
    ok = await client.post("/api/v1/echo", json=body, headers={"Authorization": f"Bearer {reader}"})
    assert ok.status_code == 200
    assert ok.json() == {"portal_id": portal_id, "amount": 5}

    missing = await client.post("/api/v1/echo", json=body)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthorized"
    assert missing.headers["www-authenticate"] == "Bearer"

    forged = await client.post(
        "/api/v1/echo", json=body, headers={"Authorization": f"Bearer {reader[:-2]}xx"}
    )
    assert forged.status_code == 401

    wrong_scope = await client.post(
        "/api/v1/echo", json=body, headers={"Authorization": f"Bearer {pos}"}
    )
    assert wrong_scope.status_code == 403
    assert "cards:read" in wrong_scope.json()["error"]["message"]

    async with committed_engine.begin() as conn:
        assert await revoke_api_key(conn, portal_id, reader.split("_")[1])
    revoked = await client.post(
        "/api/v1/echo", json=body, headers={"Authorization": f"Bearer {reader}"}
    )
    assert revoked.status_code == 401


async def test_validation_errors_name_the_fields(
    committed_engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    async with committed_engine.begin() as conn:
        key = await create_api_key(
            conn, await ensure_portal(conn, "member-api2"), "site", ["cards:read"]
        )
    bad = await client.post(
        "/api/v1/echo", json={"amount": "many"}, headers={"Authorization": f"Bearer {key}"}
    )
    assert bad.status_code == 422
    error = bad.json()["error"]
    assert error["code"] == "invalid_request"
    assert {d["field"] for d in error["details"]} == {"phone", "amount"}

    unknown = await client.get("/api/v1/nowhere")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"


async def test_unknown_scopes_are_refused(db) -> None:  # type: ignore[no-untyped-def]
    portal_id = await ensure_portal(db, "member-api3")
    with pytest.raises(ValueError, match="unknown scopes"):
        await create_api_key(db, portal_id, "x", ["everything"])
    with pytest.raises(ValueError, match="at least one"):
        await create_api_key(db, portal_id, "x", [])
