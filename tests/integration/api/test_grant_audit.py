"""A grant through the public API is in the audit log (issue 18), once however often replayed."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import ref
from tests.integration.api.conftest import open_api


async def test_a_grant_through_the_api_is_audited_once(committed_engine: AsyncEngine) -> None:
    async with open_api(committed_engine, "travel-club.yaml") as api:
        anna = await api.customer()
        key = ref("g")
        body = {
            "customer": {"customer_id": anna},
            "reason": "review",
            "actor": "Мария",
            "comment": "отзыв на сайте",
        }
        for _ in range(2):  # a replay posts nothing new, and records nothing new
            answer = await api.client.post(
                "/api/v1/grants",
                json=body,
                headers=api.auth(api.granter) | {"Idempotency-Key": key},
            )
            assert answer.status_code == 201, answer.text
        async with api.engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT actor, action, subject, reason FROM audit_log WHERE portal_id = :p "
                        "AND action = 'grant.posted'"
                    ),
                    {"p": api.portal_id},
                )
            ).all()
        assert [tuple(r) for r in rows] == [
            ("api:crm:Мария", "grant.posted", f"customer:{anna}", "отзыв на сайте")
        ]
