"""``POST /api/v1/registrations``: field-level reasons for bad input with nothing stored, and
idempotent retries (by ``Idempotency-Key`` or by phone)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.api.keys import create_api_key
from kopilka.bitrix24.connections import UnknownPortal
from kopilka.config import Settings
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import registrations
from kopilka.ledger.book import ensure_portal
from kopilka.process.services import Services
from kopilka.registration.service import note_failure, process_registration
from kopilka.web.app import create_app

GOOD = {
    "name": "Мария",
    "last_name": "Соколова",
    "phone": "8 (926) 111-22-33",
    "email": "maria@example.ru",
    "birth_date": "1988-04-02",
    "consent": True,
}


@pytest.fixture
async def api(committed_engine: AsyncEngine) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    async def setup(conn: Any) -> str:
        portal = await ensure_portal(conn, "clinic.example")
        return await create_api_key(conn, portal, "site", ["registrations:write"])

    key = await run_in_transaction(committed_engine, setup)
    url = committed_engine.url.render_as_string(hide_password=False)
    services = Services(engine=committed_engine, database_url=url, settings=Settings())
    app = create_app(services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://kopilka.test",
        headers={"Authorization": f"Bearer {key}"},
    ) as client:
        yield client, key


async def stored(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as conn:
        regs = await conn.scalar(select(func.count()).select_from(registrations))
        jobs = await conn.scalar(text("SELECT count(*) FROM procrastinate_jobs"))
    return int(regs or 0), int(jobs or 0)


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"phone": "8 912 345 67"}, "phone", "invalid_phone"),
        ({"phone": "abc"}, "phone", "invalid_phone"),
        ({"phone": ""}, "phone", "required"),
        ({"email": "maria@"}, "email", "invalid_email"),
        ({"birth_date": "02.04.1988"}, "birth_date", "invalid_date"),
        ({"birth_date": "2999-01-01"}, "birth_date", "invalid_date"),
        ({"consent": False}, "consent", "consent_required"),
        ({"consent": "yes"}, "consent", "consent_required"),
        ({"name": " "}, "name", "required"),
    ],
)
async def test_bad_input_is_refused_field_by_field_and_nothing_is_stored(
    api: tuple[httpx.AsyncClient, str],
    committed_engine: AsyncEngine,
    change: dict[str, Any],
    field: str,
    code: str,
) -> None:
    client, _key = api
    answer = await client.post("/api/v1/registrations", json={**GOOD, **change})
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "invalid_request"
    assert [(d["field"], d["code"]) for d in error["details"]] == [(field, code)]
    assert await stored(committed_engine) == (0, 0)


async def test_every_problem_is_reported_at_once(
    api: tuple[httpx.AsyncClient, str], committed_engine: AsyncEngine
) -> None:
    client, _key = api
    body = {"name": "", "phone": "12", "email": "x", "birth_date": "1988-13-01"}
    answer = await client.post("/api/v1/registrations", json=body)
    assert answer.status_code == 422
    fields = {d["field"]: d["code"] for d in answer.json()["error"]["details"]}
    assert fields == {
        "name": "required",
        "phone": "invalid_phone",
        "email": "invalid_email",
        "birth_date": "invalid_date",
        "consent": "consent_required",
    }
    unknown = await client.post("/api/v1/registrations", json={**GOOD, "password": "x"})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["details"][0]["field"] == "password"
    assert await stored(committed_engine) == (0, 0)


async def test_retries_are_idempotent_by_key_or_phone(
    api: tuple[httpx.AsyncClient, str], committed_engine: AsyncEngine
) -> None:
    client, _key = api
    first = await client.post("/api/v1/registrations", json=GOOD)
    assert first.status_code == 202
    assert first.json()["status"] == "received"
    # the same phone written differently is the same registration
    again = await client.post("/api/v1/registrations", json={**GOOD, "phone": "+7 926 111 22 33"})
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    # the same phone with other data: refused, not silently merged
    other = await client.post("/api/v1/registrations", json={**GOOD, "name": "Марина"})
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_conflict"
    # an explicit key makes a separate registration
    keyed = await client.post(
        "/api/v1/registrations", json={**GOOD, "name": "Марина"},
        headers={"Idempotency-Key": "form-42"},
    )  # fmt: skip
    assert keyed.status_code == 202
    assert await stored(committed_engine) == (2, 2)  # two registrations, one job each
    look = await client.get(f"/api/v1/registrations/{first.json()['id']}")
    assert look.json() == {"id": first.json()["id"], "status": "received", "contact_id": None}
    assert (await client.get("/api/v1/registrations/999999")).status_code == 404


async def test_a_key_without_the_scope_is_refused(committed_engine: AsyncEngine) -> None:
    async def setup(conn: Any) -> str:
        portal = await ensure_portal(conn, "clinic.example")
        return await create_api_key(conn, portal, "pos", ["pos:write"])

    key = await run_in_transaction(committed_engine, setup)
    url = committed_engine.url.render_as_string(hide_password=False)
    app = create_app(Services(engine=committed_engine, database_url=url, settings=Settings()))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://kopilka.test"
    ) as client:
        answer = await client.post(
            "/api/v1/registrations", json=GOOD, headers={"Authorization": f"Bearer {key}"}
        )
        anonymous = await client.post("/api/v1/registrations", json=GOOD)
    assert answer.status_code == 403
    assert anonymous.status_code == 401
    assert await stored(committed_engine) == (0, 0)


async def test_a_registration_that_cannot_be_processed_says_why(
    api: tuple[httpx.AsyncClient, str], committed_engine: AsyncEngine
) -> None:
    client, _key = api
    first = await client.post("/api/v1/registrations", json=GOOD)
    reg_id = first.json()["id"]
    url = committed_engine.url.render_as_string(hide_password=False)
    services = Services(engine=committed_engine, database_url=url, settings=Settings())
    async with committed_engine.connect() as conn:
        portal_id = (await conn.execute(select(registrations))).one().portal_id
    why = f"portal {portal_id} is not connected"  # this portal has no Bitrix24 connection
    with pytest.raises(UnknownPortal, match=f"^{why}$") as caught:
        await process_registration(services, reg_id)
    await note_failure(services, reg_id, caught.value, final=False)
    async with committed_engine.connect() as conn:
        row = (await conn.execute(select(registrations))).one()
    assert (row.status, row.last_error) == ("received", f"UnknownPortal: {why}")
    await note_failure(services, reg_id, caught.value, final=True)
    look = await client.get(f"/api/v1/registrations/{reg_id}")
    assert look.json()["status"] == "failed"
