"""Which portal an event comes from (issue 15, item 3): by ``auth[member_id]``, or — for a webhook
portal that has not learnt it yet — by its domain compared normalised (an on-premise portal's
``host:port``, case, scheme, a trailing dot); an event looking the portal up while another teaches
it its member_id finds it; and each refusal is recorded with its true reason."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.bitrix24.connections import connect_webhook, find_connection
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import b24_rejected_events, portals
from tests.integration.bitrix24.test_events import TOKEN, counts, event, running

MEMBER = "b7d3c1e0f9a8b7c6d5e4f3a2b1c0d9e8"
ON_PREMISE = "https://crm.example.local:8443/rest/1/abcdef/"


@pytest.mark.parametrize(
    "domain", ["crm.example.local:8443", "CRM.Example.Local.", "https://crm.example.local:8443/"]
)
async def test_an_on_premise_portal_with_a_port_is_found_by_its_domain(
    committed_engine: AsyncEngine, domain: str
) -> None:
    async with running(committed_engine, webhook_url=ON_PREMISE) as web:
        async with httpx.AsyncClient(base_url=web.url) as http:
            first = await http.post("/b24/events", data=event("7", TOKEN, MEMBER, domain))
            # learnt: from now on the member_id alone names it, whatever the domain says
            later = await http.post("/b24/events", data=event("8", TOKEN, MEMBER, "moved.ru"))
        assert (first.status_code, later.status_code) == (200, 200)
        assert await counts(web.engine) == (2, 1, 0)
        async with web.engine.connect() as conn:
            member = await conn.scalar(
                select(portals.c.member_id).where(portals.c.id == web.connection.portal_id)
            )
        assert member == MEMBER


class TeachAfterFirstStatement:
    """A connection whose first statement is followed by the teacher's commit."""

    def __init__(self, conn: AsyncConnection, teacher: AsyncConnection) -> None:
        self.conn, self.teacher, self.statements = conn, teacher, 0

    async def execute(self, *args: Any, **kw: Any) -> Any:
        result = await self.conn.execute(*args, **kw)
        self.statements += 1
        if self.statements == 1:
            await self.teacher.commit()
        return result


async def test_a_portal_being_taught_its_member_id_is_found_all_the_same(
    committed_engine: AsyncEngine,
) -> None:
    """The first events after ``connect`` arrive together: one teaches the portal its member_id
    while another looks the portal up. Here the teaching commits right after the look-up's first
    statement — the moment an event used to find the portal under neither name."""
    connection = await run_in_transaction(
        committed_engine,
        lambda c: connect_webhook(c, webhook_url=ON_PREMISE, event_token=TOKEN),
    )
    async with committed_engine.connect() as teacher, committed_engine.connect() as conn:
        await teacher.execute(
            portals.update().where(portals.c.id == connection.portal_id).values(member_id=MEMBER)
        )
        looker = TeachAfterFirstStatement(conn, teacher)
        found = await find_connection(looker, MEMBER, "crm.example.local:8443")  # type: ignore[arg-type]
    assert looker.statements >= 1
    assert found is not None
    assert found.portal_id == connection.portal_id


async def test_each_refusal_says_why(
    committed_engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(committed_engine, webhook_url=ON_PREMISE) as web:
        domain = "crm.example.local:8443"
        with caplog.at_level(logging.WARNING, logger="kopilka.bitrix24.events"):
            async with httpx.AsyncClient(base_url=web.url) as http:
                unknown = event("7", TOKEN, "f" * 32, "other.bitrix24.ru")
                wrong = event("7", "0" * 32, MEMBER, domain)
                missing = event("7", TOKEN, MEMBER, domain)
                del missing["auth[application_token]"]
                nobody = event("7", TOKEN, "", "")
                for form in (unknown, wrong, missing, nobody):
                    answer = await http.post("/b24/events", data=form)
                    assert answer.status_code == 401
        async with web.engine.connect() as conn:
            reasons = list(
                await conn.scalars(
                    select(b24_rejected_events.c.reason).order_by(b24_rejected_events.c.id)
                )
            )
        portal = web.connection.portal_id
        assert reasons == [
            "no connected portal has member_id 'ffffffffffffffffffffffffffffffff' "
            "or domain 'other.bitrix24.ru'",
            f"the application token does not match portal {portal}'s",
            f"no application token (portal {portal})",
            "the event names no portal (no auth[member_id], no auth[domain])",
        ]
        assert all(r in caplog.text for r in reasons)
        assert await counts(web.engine) == (0, 0, 4)
