"""The cabinet's login over real HTTP (issue 12, items 3 and 5): the same answer for every phone,
caps on code requests, the SMS queued and sent by the worker, and a lockout that holds when wrong
codes come all at once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.cabinet import sessions
from tests.integration.api.webauth import (
    PHONE,
    STRANGER,
    ask_code,
    code_in,
    serve,
    start,
    verify,
)

pytestmark = pytest.mark.timeout(120)
RESEND = 60  # login_resend_after


async def test_known_and_unknown_phones_get_the_same_answers(
    committed_engine: AsyncEngine,
) -> None:
    async with serve(
        committed_engine, login_max_codes_per_addr=100, login_resend_after=RESEND
    ) as web:
        async with web.client() as client:
            await start(client)
            answers: list[tuple[int, str, int, str]] = []
            for _ in range(5 + 1):  # login_max_codes_per_phone: 5
                known = await ask_code(client, PHONE)
                unknown = await ask_code(client, STRANGER)
                answers.append(
                    (
                        known.status_code,
                        known.text.replace(PHONE, "PHONE"),
                        unknown.status_code,
                        unknown.text.replace(STRANGER, "PHONE"),
                    )
                )
                web.clock.advance(seconds=RESEND)
    for i, (known_status, known_page, unknown_status, unknown_page) in enumerate(answers):
        assert known_status == unknown_status, f"request {i + 1}"
        assert known_page == unknown_page, f"request {i + 1}"
    statuses = [a[0] for a in answers]
    assert statuses == [200] * 5 + [429]
    assert 'id="code"' in answers[0][1]
    assert "Слишком много запросов кода" in answers[-1][1]
    # Nothing was sent inline: the customer's five SMS wait in the outbox, the stranger's none.
    assert web.sms.messages == []
    assert await web.queued_sms() == 5
    assert await web.scalar("SELECT count(*) FROM login_requests WHERE portal_id = :p") == 10


async def test_a_resend_too_early_is_refused_the_same_way(committed_engine: AsyncEngine) -> None:
    async with serve(committed_engine, login_resend_after=RESEND) as web:
        async with web.client() as client:
            await start(client)
            for phone in (PHONE, STRANGER):
                assert (await ask_code(client, phone)).status_code == 200
            web.clock.advance(seconds=RESEND - 20)
            early = [await ask_code(client, phone) for phone in (PHONE, STRANGER)]
    assert [a.status_code for a in early] == [429, 429]
    assert early[0].text.replace(PHONE, "P") == early[1].text.replace(STRANGER, "P")
    assert 'data-wait="20"' in early[0].text  # the page's timer: 20 s left
    assert "через 20 с" in early[0].text
    assert await web.queued_sms() == 1


async def test_the_code_is_queued_and_the_worker_sends_it(committed_engine: AsyncEngine) -> None:
    async with serve(committed_engine) as web:
        async with web.client() as client:
            await start(client)
            # The program speaks Russian: an English browser alone does not change that ...
            russian = await client.get("/cabinet/login", headers={"Accept-Language": "en"})
            assert "Вход в личный кабинет" in russian.text
            # ... the customer's own choice does (the language link sets this cookie).
            client.cookies.set("kop_lang", "en")
            asked = await ask_code(client, PHONE, headers={"Accept-Language": "en"})
            assert asked.status_code == 200
            assert "You can request a new code in 60 s" in asked.text
            assert web.sms.messages == []
            body = await web.scalar(
                "SELECT body FROM notifications WHERE portal_id = :p AND channel = 'sms'"
            )
            assert "{code}" in body  # no code in clear in the outbox
            assert not any(ch.isdigit() for ch in body)

            report = await web.deliver()  # what the notify worker runs (quiet hours or not)
            assert report.sent == 1
            assert [m.phone for m in web.sms.messages] == [PHONE.lstrip("+")]
            assert web.sms.messages[0].text.startswith("Your login code: ")
            code = code_in(web.sms.messages[0].text)
            entered = await verify(client, PHONE, code)
    assert entered.status_code == 303
    assert "kop_session=" in entered.headers["set-cookie"]


async def test_per_address_cap(committed_engine: AsyncEngine) -> None:
    async with serve(committed_engine, login_max_codes_per_addr=3) as web:
        async with web.client() as client:
            await start(client)
            first = [await ask_code(client, f"+7916000000{i}") for i in range(3)]
            capped = await ask_code(client, PHONE)
    assert [a.status_code for a in first] == [200, 200, 200]
    assert capped.status_code == 429
    assert "Слишком много запросов кода" in capped.text
    assert await web.queued_sms() == 0
    await web.deliver()
    assert web.sms.messages == []


async def test_total_cap_over_all_addresses(committed_engine: AsyncEngine) -> None:
    async with serve(committed_engine, login_max_codes_total=3, trusted_proxies="127.0.0.1") as web:
        async with web.client() as client:
            await start(client)
            first = [
                await ask_code(
                    client, f"+7916000000{i}", headers={"X-Forwarded-For": f"10.0.0.{i}"}
                )
                for i in range(3)
            ]
            capped = await ask_code(client, PHONE, headers={"X-Forwarded-For": "10.0.0.9"})
    assert [a.status_code for a in first] == [200, 200, 200]
    assert capped.status_code == 429
    assert "Сейчас слишком много запросов кода" in capped.text
    assert await web.queued_sms() == 0
    assert await web.scalar("SELECT count(DISTINCT addr) FROM login_requests") == 3


async def test_concurrent_wrong_codes_check_at_most_the_limit(
    committed_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked = 0
    real = sessions.use_code

    async def counting(*args: Any, **kw: Any) -> bool:
        nonlocal checked
        checked += 1
        return await real(*args, **kw)

    monkeypatch.setattr(sessions, "use_code", counting)
    limit = 5
    async with serve(
        committed_engine,
        login_max_failures_per_phone=limit,
        login_max_failures_per_addr=1000,
        max_in_flight=100,  # 60 at once, all let in: the lockout is under test, not the bound
    ) as web:
        async with web.client() as client:
            await start(client)
            assert (await ask_code(client, PHONE)).status_code == 200
            await web.deliver()
            good = code_in(web.sms.messages[-1].text)
            wrong = f"{(int(good) + 1) % 1_000_000:06d}"
            answers = await asyncio.gather(*(verify(client, PHONE, wrong) for _ in range(60)))
            after = await verify(client, PHONE, good)
    statuses = sorted(a.status_code for a in answers)
    assert checked <= limit
    assert statuses.count(401) == limit - 1  # the last allowed guess already locks
    assert statuses.count(429) == 60 - (limit - 1)
    assert after.status_code == 429  # the lockout holds, even for the right code


async def test_without_an_sms_channel(
    committed_engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    """No SMS channel: every phone gets 503 alike; in development with codes to the log, the
    code is logged (and works) instead."""
    async with serve(committed_engine, smsru_api_id=None, env="production") as web:
        async with web.client() as client:
            await start(client)
            answers = [await ask_code(client, phone) for phone in (PHONE, STRANGER)]
    assert [a.status_code for a in answers] == [503, 503]
    assert "Не удалось отправить SMS" in answers[0].text

    async with serve(
        committed_engine, smsru_api_id=None, env="development", login_codes_to_log=True
    ) as web:
        async with web.client() as client:
            await start(client)
            with caplog.at_level("WARNING", logger="kopilka.cabinet"):
                assert (await ask_code(client, PHONE)).status_code == 200
            logged = [r.getMessage() for r in caplog.records if "login code for" in r.getMessage()]
            assert len(logged) == 1
            entered = await verify(client, PHONE, code_in(logged[0]))
    assert entered.status_code == 303


async def test_a_code_voided_before_the_worker_sends_it_is_not_sent(
    committed_engine: AsyncEngine,
) -> None:
    async with serve(committed_engine, login_max_failures_per_phone=2) as web:
        async with web.client() as client:
            await start(client)
            assert (await ask_code(client, PHONE)).status_code == 200
            wrong = [await verify(client, PHONE, "000000") for _ in range(2)]
            report = await web.deliver()
    assert [a.status_code for a in wrong] == [401, 429]  # the lockout voids the code
    assert (report.sent, report.failed) == (0, 1)
    assert web.sms.messages == []
    status = await web.scalar("SELECT status FROM notifications WHERE portal_id = :p")
    assert status == "failed"
