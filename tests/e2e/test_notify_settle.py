"""Issue 15, item 11: customer messages reflect the settled state. An accrual's SMS and e-mail
wait a settle window; a deal won and lost inside it tells the customer nothing, and an accrual
taken back after it was told is corrected (a local SMS.ru over HTTP, a real SMTP server)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.db.tables import notification_events, notifications
from kopilka.fakes import SmsRuFake
from kopilka.fakes.smtp import SmtpSink
from kopilka.notify.service import run_notify
from kopilka.process.devstack import Stack
from tests.e2e.test_s4_cards_notifications import add_contact, doctor_class, s4_stack, until

pytestmark = pytest.mark.timeout(240)

DOCTOR = "UF_CRM_DOCTOR_CLASS"
PHONE = "79123456789"
MAIL = "ivan@clinic.example"


async def messages(h: Stack, deal: int) -> dict[str, str]:
    """key -> status of the customer messages that tell of the deal's events."""
    n, e = notifications.c, notification_events.c
    async with h.engine.connect() as conn:
        rows = await conn.execute(
            select(n.key, n.status)
            .join(notification_events, e.id == n.event_id)
            .where(e.reference == f"deal:{deal}", n.channel.in_(("sms", "email")))
        )
        return {str(r.key): str(r.status) for r in rows}


async def reversal_seen(h: Stack, deal: int) -> bool:
    e = notification_events.c
    async with h.engine.connect() as conn:
        found = await conn.scalar(
            select(e.id).where(
                e.reference == f"deal:{deal}", e.kind == "reversal", e.expanded_at.is_not(None)
            )
        )
    return found is not None


def later(h: Stack, seconds: float) -> None:
    """Move the services' clock on (the settle window is measured by it)."""
    clock = h.services.now
    h.services.now = lambda: clock() + timedelta(seconds=seconds)


def to_ivan(sms: SmsRuFake) -> list[Any]:
    return [m for m in sms.messages if m.phone == PHONE]


async def test_an_accrual_is_told_once_settled_and_corrected_when_taken_back(
    committed_engine: AsyncEngine,
) -> None:
    with SmsRuFake(api_id="s4-api-id") as sms, SmtpSink() as smtp:
        async with s4_stack(committed_engine, sms, smtp, notify_settle_seconds=120) as h:
            ivan = add_contact(
                h, "Иван", "Петров", PHONE=[{"VALUE": "+7 912 345-67-89"}],
                EMAIL=[{"VALUE": MAIL, "VALUE_TYPE": "WORK"}], **{DOCTOR: doctor_class(h)},
            )  # fmt: skip

            # won by mistake: the SMS and the e-mail wait in the outbox
            wrong = h.add_deal(ivan, "20000")
            h.move(wrong, "WON")
            await h.settle()
            held = await until(h, lambda: messages(h, wrong))
            assert sorted(held.values()) == ["pending", "pending"]
            await run_notify(h.services, h.connection.portal_id)
            assert (to_ivan(sms), smtp.to(MAIL)) == ([], [])

            # lost inside the window: never told
            h.move(wrong, "LOSE")
            await h.settle()
            await until(h, lambda: reversal_seen(h, wrong))
            assert sorted((await messages(h, wrong)).values()) == ["skipped", "skipped"]
            later(h, 180)
            await run_notify(h.services, h.connection.portal_id)
            assert (to_ivan(sms), smtp.to(MAIL)) == ([], [])

            # won for real: told once the window has passed
            right = h.add_deal(ivan, "10000")
            h.move(right, "WON")
            await h.settle()
            await until(h, lambda: messages(h, right))
            later(h, 180)
            await run_notify(h.services, h.connection.portal_id)
            await until(h, lambda: to_ivan(sms) and smtp.to(MAIL))
            [told] = to_ivan(sms)
            assert "вам начислено" in told.text

            # taken back after it was told: a correction, by SMS and e-mail
            h.move(right, "LOSE")
            await h.settle()
            await until(h, lambda: len(to_ivan(sms)) == 2 and len(smtp.to(MAIL)) == 2)
            correction = to_ivan(sms)[1].text
            assert "отменено" in correction
            assert f"№{right}" in correction
            assert smtp.to(MAIL)[1]["Subject"].startswith("Начисление")
            assert "отменено" in smtp.to(MAIL)[1]["Subject"]
