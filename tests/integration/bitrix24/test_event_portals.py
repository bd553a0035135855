"""Which portal an event comes from (issue 15, item 3): by ``auth[member_id]``, or — for a webhook
portal that has not learnt it yet — by its domain compared normalised (an on-premise portal's
``host:port``, case, scheme, a trailing dot); the first events after ``connect`` arriving at once
are all taken; and each refusal is recorded with its true reason."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

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


async def test_the_first_events_after_connect_arriving_at_once_are_all_taken(
    committed_engine: AsyncEngine,
) -> None:
    async with running(committed_engine, webhook_url=ON_PREMISE) as web:
        portal = web.connection.portal_id
        for n in range(5):  # the race is between two statements: give it a few chances
            member = f"{n:032x}"  # a portal connected anew each round, learning its member_id
            async with web.engine.begin() as conn:
                await conn.execute(
                    portals.update()
                    .where(portals.c.id == portal)
                    .values(member_id="domain:crm.example.local")
                )
            async with httpx.AsyncClient(base_url=web.url) as http:
                answers = await asyncio.gather(
                    *(
                        http.post(
                            "/b24/events", data=event(str(d), TOKEN, member, "crm.example.local")
                        )
                        for d in range(1, 21)
                    )
                )
            assert sorted(a.status_code for a in answers) == [200] * 20
            async with web.engine.connect() as conn:
                learnt = await conn.scalar(
                    select(portals.c.member_id).where(portals.c.id == portal)
                )
            assert learnt == member
        assert (await counts(web.engine))[2] == 0


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
