"""The operations views against a live server (issue 18, item 4): a failed message with the
provider's answer, a failed job with its error, a parked deal — each on the page; and the
retry, cancel and re-sync buttons leave the database as they say."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.admin import passwords
from kopilka.db.engine import run_in_transaction
from kopilka.ledger.book import ensure_portal
from kopilka.notify.deferred import defer_registration
from kopilka.notify.outbox import queue
from kopilka.process.services import Services
from kopilka.process.worker import run_worker
from tests.integration.api.webauth import PHONE, Web, csrf_of, serve, start

pytestmark = pytest.mark.timeout(180)
PASSWORD = "operator-secret"


async def _login(web: Web, client: httpx.AsyncClient) -> None:
    await start(client, "/admin/login")
    answer = await client.post("/admin/login", data={"password": PASSWORD, "csrf": csrf_of(client)})
    assert answer.status_code == 303, answer.text


async def _seed_trouble(web: Web) -> int:
    """Two SMS the provider refuses, a registration whose job fails, a parked deal; another
    portal's failing registration and failed job. Returns the other portal's id."""
    portal_id = web.portal_id

    async def unit(conn: Any) -> int:
        for n in (1, 2):
            await queue(conn, portal_id, key=f"ops-test:{n}", channel="sms", recipient=PHONE,
                        body=f"Бонусы: сообщение {n}", not_before=web.clock())  # fmt: skip
        other = await ensure_portal(conn, "someone-else")  # another tenant
        for tenant in (portal_id, other):  # a registration each, whose job will fail
            registration = await conn.scalar(
                text("INSERT INTO registrations (portal_id, idempotency_key, input_hash, phone,"
                     " name, email, consent_at) VALUES (:p, 'ops-test', 'x', :phone, 'Анна', '',"
                     " now()) RETURNING id"),
                {"p": tenant, "phone": PHONE},
            )  # fmt: skip
            await defer_registration(conn, int(registration))
        await conn.execute(
            text("INSERT INTO b24_dirty_deals (portal_id, deal_id, source, attempts, last_error,"
                 " retry_at) VALUES (:p, 4242, 'event', 3, 'crm.deal.get: ACCESS_DENIED', :r)"),
            {"p": portal_id, "r": web.clock() + timedelta(hours=1)},
        )  # fmt: skip
        await conn.execute(
            text("INSERT INTO job_failures (job_id, task_name, portal_id, attempt, error)"
                 " VALUES (1, 'notify.portal', :o, 0, 'RuntimeError: other portal')"),
            {"o": other},
        )  # fmt: skip
        return int(other)

    other = await run_in_transaction(web.engine, unit)
    web.sms.fail_next(2, error=201)
    delivery = await web.deliver()
    assert delivery.failed == 2
    # the worker runs the registration's job: the portal is not connected, so it fails
    url = web.engine.url.render_as_string(hide_password=False)
    services = Services(engine=web.engine, database_url=url, settings=web.settings)
    try:
        await run_worker(services, wait=False, install_signal_handlers=False, heartbeat=1.0)
    finally:
        await services.aclose()
    return other


async def _messages(web: Web) -> dict[str, tuple[str, int]]:
    async with web.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT key, status, attempts FROM notifications WHERE portal_id = :p"),
            {"p": web.portal_id},
        )
        return {r.key: (r.status, r.attempts) for r in rows}


async def _id_of(web: Web, key: str) -> int:
    return int(await web.scalar("SELECT id FROM notifications WHERE key = :k", k=key))


async def test_operations_pages_show_trouble_and_the_buttons_do_what_they_say(
    committed_engine: AsyncEngine,
) -> None:
    stored = SecretStr(passwords.hash_password(PASSWORD, iterations=1_000))
    async with serve(
        committed_engine, admin_password_hash=stored, notify_max_attempts=1, quiet_hours=""
    ) as web:
        other = await _seed_trouble(web)
        async with web.client() as client:
            assert (await client.get("/admin/operations")).status_code == 303  # not signed in
            await _login(web, client)

            page = (await client.get("/admin/operations")).text
            # the failed job, with its error and what became of it (waiting for its retry)
            assert "registration.process" in page
            assert "other portal" not in page
            assert f"UnknownPortal: portal {web.portal_id} is not connected" in page
            # another tenant's failures are not shown: its registration's, its job's
            assert f"portal {other} is not connected" not in page
            assert re.search(r'data-task="registration.process">.*?data-status="retried">1<',
                             page, re.S)  # fmt: skip
            # the parked deal with its reason, the outbox's failed messages
            assert 'data-deal="4242"' in page
            assert "ACCESS_DENIED" in page
            assert re.search(r'data-status="failed">не отправлены: 2<', page)
            english = (await client.get("/admin/operations?lang=en")).text
            assert "Deals that cannot be synced" in english
            assert "не отправлены" not in english

            listed = (await client.get("/admin/operations/messages?status=failed")).text
            assert listed.count('class="provider-answer">smsru: code 201') == 2

            first, second = await _id_of(web, "ops-test:1"), await _id_of(web, "ops-test:2")
            # a POST without the CSRF token changes nothing
            forged = await client.post(f"/admin/operations/messages/{first}/retry", data={})
            assert forged.status_code == 403
            assert (await _messages(web))["ops-test:1"] == ("failed", 1)

            form = {"csrf": csrf_of(client)}
            retried = await client.post(
                f"/admin/operations/messages/{first}/retry?status=failed", data=form
            )
            assert retried.status_code == 303
            assert "done=retried_ok" in retried.headers["location"]
            assert (await _messages(web))["ops-test:1"] == ("pending", 0)
            woken = await web.scalar(
                "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'notify.portal'"
                " AND status = 'todo' AND (args->>'portal_id')::bigint = :p"
            )
            assert woken == 1

            cancelled = await client.post(f"/admin/operations/messages/{second}/cancel",
                                          data=form)  # fmt: skip
            assert "done=cancelled_ok" in cancelled.headers["location"]
            again = await client.post(f"/admin/operations/messages/{second}/retry", data=form)
            assert "done=not_changed" in again.headers["location"]  # cancelled stays cancelled

            await web.deliver()
            assert await _messages(web) == {"ops-test:1": ("sent", 1),
                                            "ops-test:2": ("cancelled", 1)}  # fmt: skip
            assert [m.text for m in web.sms.messages] == ["Бонусы: сообщение 1"]

            resynced = await client.post("/admin/operations/deals/4242/resync", data=form)
            assert resynced.status_code == 303
            async with web.engine.connect() as conn:
                deal = (
                    await conn.execute(
                        text("SELECT last_error, retry_at, source FROM b24_dirty_deals"
                             " WHERE portal_id = :p AND deal_id = 4242"),
                        {"p": web.portal_id},
                    )
                ).one()  # fmt: skip
            assert (deal.last_error, deal.retry_at, deal.source) == (None, None, "admin")
            sync = await web.scalar(
                "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'bitrix24.portal.sync'"
                " AND status = 'todo' AND (args->>'portal_id')::bigint = :p"
            )
            assert sync == 1
            after = (await client.get("/admin/operations")).text
            assert 'data-deal="4242"' not in after
