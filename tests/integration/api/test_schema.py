"""schemathesis against the running app's OpenAPI (``/api/v1`` only): no answer is a 5xx, and
every 4xx carries the documented error shape (``kopilka.api.errors.ErrorResponse``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.api.errors import ErrorResponse
from kopilka.api.keys import SCOPES, create_api_key
from kopilka.config import Settings
from kopilka.db.engine import run_in_transaction
from tests.browser.conftest import LiveServer, seed_portal
from tests.factories import ref

pytestmark = pytest.mark.timeout(280)
EXAMPLES_PER_OPERATION = 25


def exercise(url: str, key: str) -> list[str]:
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    problems: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith("/api/v1/"):
            continue
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": ref("schema")}
            response = case.call(base_url=url, headers=headers)
            where = f"{case.method} {case.formatted_path} → {response.status_code}"
            if response.status_code >= 500:
                problems.append(f"{where}: server error {response.text[:200]}")
            elif response.status_code >= 400:
                try:
                    ErrorResponse.model_validate(response.json())
                except Exception as exc:
                    problems.append(f"{where}: not the error shape ({exc}) {response.text[:200]}")

        run()
    assert operations >= 10, "the public API's operations are in the schema"
    return problems


async def test_no_server_errors_and_one_error_shape(committed_engine: AsyncEngine) -> None:
    member = ref("schema")
    await seed_portal(committed_engine, member, "+79161234567")

    async def keys(conn: Any) -> str:
        from sqlalchemy import text

        portal_id = await conn.scalar(
            text("SELECT id FROM portals WHERE member_id = :m"), {"m": member}
        )
        return await create_api_key(
            conn,
            portal_id,
            "fuzz",
            list(SCOPES),  # every operation, not just its 403
        )

    key = await run_in_transaction(committed_engine, keys)
    url = committed_engine.url.render_as_string(hide_password=False)
    with LiveServer(url, Settings(cabinet_portal=member)) as server:
        problems = await asyncio.to_thread(exercise, server.url, key)
    assert problems == [], "\n".join(problems[:20])
