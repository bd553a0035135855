"""The outbox against real providers' fakes over HTTP and a real SMTP server: retries with
backoff, a visible failed state, no duplicates after recovery, quiet hours, opted-out customers,
channels that are not configured, and attempts whose outcome is unknown."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.config import Settings
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import notifications
from kopilka.fakes import SmsRuFake, UniSenderFake
from kopilka.fakes.smtp import SmtpSink
from kopilka.notify.channels import Channel, SmsDelivery, SmtpEmail, UniSenderEmail
from kopilka.notify.outbox import Delivery, Policy, deliver_due, opt_in, opt_out, queue
from kopilka.notify.sms import SmsRu
from tests.integration.notify.conftest import MOSCOW, Shop, policy


async def add(shop: Shop, key: str, channel: str, recipient: str, **more: Any) -> None:
    async def work(conn: AsyncConnection) -> None:
        await queue(
            conn, shop.portal_id, key=key, channel=channel, recipient=recipient,
            body=more.pop("body", f"text of {key}"), **more,
        )  # fmt: skip

    await run_in_transaction(shop.engine, work)


async def rows(shop: Shop) -> dict[str, Any]:
    async with shop.engine.connect() as conn:
        found = (await conn.execute(select(notifications).order_by(notifications.c.id))).all()
    return {r.key: r for r in found}


async def deliver(shop: Shop, channels: dict[str, Channel], pol: Policy) -> Delivery:
    return await deliver_due(shop.engine, shop.portal_id, channels, pol, now=shop.clock)


async def drain(shop: Shop, channels: dict[str, Channel], pol: Policy, rounds: int = 10) -> None:
    """Deliver, let the clock run to the next due message, and again, until nothing is due."""
    for _ in range(rounds):
        report = await deliver(shop, channels, pol)
        if report.next_due is None:
            return
        shop.clock.now = max(shop.clock.now, report.next_due)


@pytest.fixture
async def http() -> Any:
    async with httpx.AsyncClient() as client:
        yield client


async def test_errors_are_retried_with_backoff_and_sent_once_when_the_provider_recovers(
    shop: Shop, http: httpx.AsyncClient
) -> None:
    with SmsRuFake(api_id="k") as fake:
        channels: dict[str, Channel] = {
            "sms": SmsDelivery(SmsRu(http, api_id="k", url=fake.url, timeout=0.5))
        }
        await add(shop, "a", "sms", "+79123456789", customer_id=shop.customers[0])
        fake.fail_next(1)  # "temporarily unavailable"
        fake.stall_next(1, seconds=5)  # then no answer within the timeout
        first = await deliver(shop, channels, policy(attempts=5, backoff=10))
        assert (first.sent, first.retried) == (0, 1)
        row = (await rows(shop))["a"]
        assert (row.status, row.attempts) == ("pending", 1)
        assert (row.not_before - shop.clock.now).total_seconds() == pytest.approx(10)
        assert "220" in row.last_error
        # not due yet: nothing is sent before the backoff
        assert (await deliver(shop, channels, policy(attempts=5, backoff=10))).sent == 0
        shop.clock.advance(10)
        second = await deliver(shop, channels, policy(attempts=5, backoff=10))
        assert second.retried == 1
        row = (await rows(shop))["a"]
        assert (row.not_before - shop.clock.now).total_seconds() == pytest.approx(20)  # doubled
        await drain(shop, channels, policy(attempts=5, backoff=10))
        row = (await rows(shop))["a"]
        assert (row.status, row.attempts, row.provider_id) == ("sent", 3, fake.messages[0].sms_id)
        await drain(shop, channels, policy(attempts=5, backoff=10))
    assert [m.phone for m in fake.messages] == ["79123456789"]  # exactly once


async def test_a_provider_down_for_good_ends_in_failed_and_nothing_is_lost(
    shop: Shop, http: httpx.AsyncClient
) -> None:
    with UniSenderFake(api_key="k") as fake:
        settings = Settings(
            unisender_api_key=SecretStr("k"), unisender_url=fake.url,
            unisender_sender_email="shop@example.ru", unisender_list_id=7,
        )  # fmt: skip
        channels: dict[str, Channel] = {"email": UniSenderEmail(settings, http)}
        for n in range(3):
            await add(shop, f"m{n}", "email", f"c{n}@example.ru", subject="Тема")
        fake.fail_next(100)
        await drain(shop, channels, policy(attempts=3, backoff=1))
        found = await rows(shop)
        assert {r.status for r in found.values()} == {"failed"}
        assert {r.attempts for r in found.values()} == {3}
        assert all("retry_later" in r.last_error for r in found.values())
        # the provider is back: failed messages stay failed (visible, not re-sent behind
        # anyone's back); a new one goes out once
        fake.heal()
        await add(shop, "m3", "email", "c3@example.ru", subject="Тема")
        await drain(shop, channels, policy(attempts=3, backoff=1))
    assert [(e.email, e.subject, e.list_id) for e in fake.emails] == [
        ("c3@example.ru", "Тема", "7")
    ]


async def test_a_final_refusal_is_not_retried(shop: Shop, http: httpx.AsyncClient) -> None:
    with SmsRuFake(api_id="k") as fake:
        channels: dict[str, Channel] = {"sms": SmsDelivery(SmsRu(http, api_id="k", url=fake.url))}
        await add(shop, "bad", "sms", "+79123456789")
        fake.fail_next(1, error=207)  # no route to this number
        report = await deliver(shop, channels, policy(attempts=5))
    assert report.failed == 1
    row = (await rows(shop))["bad"]
    assert (row.status, row.attempts) == ("failed", 1)
    assert "207" in row.last_error


async def test_quiet_hours_hold_sms_until_morning_but_not_email(shop: Shop) -> None:
    with SmsRuFake(api_id="k") as fake, SmtpSink() as smtp:
        async with httpx.AsyncClient() as http:
            settings = Settings(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_tls="none")
            channels: dict[str, Channel] = {
                "sms": SmsDelivery(SmsRu(http, api_id="k", url=fake.url)),
                "email": SmtpEmail(settings),
            }
            night = datetime(2027, 3, 1, 22, 30, tzinfo=MOSCOW)
            shop.clock.now = night
            await add(shop, "s", "sms", "+79123456789")
            await add(shop, "e", "email", "anna@example.ru", subject="Бонусы")
            quiet = policy(quiet=(21 * 60, 9 * 60))
            report = await deliver(shop, channels, quiet)
            assert (report.sent, report.postponed) == (1, 1)
            row = (await rows(shop))["s"]
            assert row.status == "pending"
            assert row.not_before == datetime(2027, 3, 2, 9, 0, tzinfo=MOSCOW)
            assert report.next_due == row.not_before
            shop.clock.now = datetime(2027, 3, 2, 8, 59, tzinfo=MOSCOW)
            assert (await deliver(shop, channels, quiet)).sent == 0
            shop.clock.now = datetime(2027, 3, 2, 9, 0, tzinfo=MOSCOW)
            assert (await deliver(shop, channels, quiet)).sent == 1
    assert len(fake.messages) == 1
    assert [m["To"] for m in smtp.messages] == ["anna@example.ru"]
    assert smtp.messages[0]["Subject"] == "Бонусы"


async def test_an_opted_out_customer_gets_nothing(shop: Shop, http: httpx.AsyncClient) -> None:
    anna, boris = shop.customers[:2]
    await run_in_transaction(
        shop.engine, lambda conn: opt_out(conn, shop.portal_id, anna, "cabinet")
    )
    with SmsRuFake(api_id="k") as fake:
        channels: dict[str, Channel] = {"sms": SmsDelivery(SmsRu(http, api_id="k", url=fake.url))}
        await add(shop, "to-anna", "sms", "+79123456789", customer_id=anna)
        await add(shop, "to-boris", "sms", "+79160001122", customer_id=boris)
        report = await deliver(shop, channels, policy())
        assert (report.sent, report.skipped) == (1, 1)
        found = await rows(shop)
        assert (found["to-anna"].status, found["to-anna"].last_error) == (
            "skipped",
            "the customer opted out",
        )
        # opting in again affects new messages only
        await run_in_transaction(shop.engine, lambda conn: opt_in(conn, shop.portal_id, anna))
        await add(shop, "to-anna-2", "sms", "+79123456789", customer_id=anna)
        assert (await deliver(shop, channels, policy())).sent == 1
    assert [m.phone for m in fake.messages] == ["79160001122", "79123456789"]


async def test_a_channel_that_is_not_configured_is_skipped_with_a_log_line(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    await add(shop, "sms-1", "sms", "+79123456789")
    with caplog.at_level(logging.INFO, logger="kopilka.notify"):
        report = await deliver(shop, {}, policy())
    assert report.skipped == 1
    row = (await rows(shop))["sms-1"]
    assert (row.status, row.last_error) == ("skipped", "channel sms not configured")
    assert any("channel sms is not configured" in r.getMessage() for r in caplog.records)


async def test_an_attempt_with_unknown_outcome_gets_one_more_try_never_two(
    shop: Shop, http: httpx.AsyncClient
) -> None:
    """A worker that died after claiming: the row is ``sending`` with a lease in the past."""
    with SmsRuFake(api_id="k") as fake:
        channels: dict[str, Channel] = {"sms": SmsDelivery(SmsRu(http, api_id="k", url=fake.url))}
        await add(shop, "once", "sms", "+79123456789")
        await add(shop, "twice", "sms", "+79160001122")
        past = shop.clock.now.replace(year=shop.clock.now.year - 1)

        async def die(conn: AsyncConnection) -> None:
            await conn.execute(
                update(notifications)
                .where(notifications.c.key == "once")
                .values(status="sending", attempts=1, lease_until=past)
            )
            await conn.execute(  # its retry died too
                update(notifications)
                .where(notifications.c.key == "twice")
                .values(status="sending", attempts=2, unknown=1, lease_until=past)
            )

        await run_in_transaction(shop.engine, die)
        report = await deliver(shop, channels, policy())
        found = await rows(shop)
        assert (found["once"].status, found["once"].unknown, found["once"].attempts) == (
            "sent",
            1,
            2,
        )
        assert found["twice"].status == "failed"
        assert "outcome unknown twice" in found["twice"].last_error
        assert (report.sent, report.failed) == (1, 1)
    assert [m.phone for m in fake.messages] == ["79123456789"]


async def test_a_live_lease_is_left_alone(shop: Shop, http: httpx.AsyncClient) -> None:
    with SmsRuFake(api_id="k") as fake:
        channels: dict[str, Channel] = {"sms": SmsDelivery(SmsRu(http, api_id="k", url=fake.url))}
        await add(shop, "busy", "sms", "+79123456789")
        lease = shop.clock.now.replace(microsecond=0)
        lease = lease.replace(year=lease.year + 1)
        await run_in_transaction(
            shop.engine,
            lambda conn: conn.execute(
                update(notifications).values(status="sending", attempts=1, lease_until=lease)
            ),
        )
        report = await deliver(shop, channels, policy())
    assert report.sent == 0
    assert report.next_due == lease  # the job wakes up when the lease runs out
    assert fake.messages == []
