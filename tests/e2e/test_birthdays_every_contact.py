"""Issue 15, item 8 (seed 003's birthday process, for every contact): a contact Kopilka has
never seen (no card, no deal) whose birthday is tomorrow is remembered; the "no card" and "no
birth date" notices reach each manager as one digest, not one notice per customer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.fakes import SmsRuFake
from kopilka.fakes.smtp import SmtpSink
from kopilka.notify.birthdays import daily_round
from kopilka.notify.service import run_notify
from tests.e2e.test_s4_cards_notifications import (
    CARD,
    DOCTOR,
    add_contact,
    doctor_class,
    notices,
    quiet_outbox,
    s4_stack,
    until,
)

pytestmark = pytest.mark.timeout(240)


async def test_every_contact_is_reminded_and_managers_get_one_digest(
    committed_engine: AsyncEngine,
) -> None:
    with SmsRuFake(api_id="s4-api-id") as sms, SmtpSink() as smtp:
        async with s4_stack(committed_engine, sms, smtp) as h:
            cls = doctor_class(h)
            now = datetime(2027, 3, 14, 10, 0, tzinfo=UTC)  # 13:00 in Moscow
            h.services.now = lambda: now
            # never seen by Kopilka: no classifier, so no card; no deal
            gleb = add_contact(
                h, "Глеб", "Незнакомый", BIRTHDATE="1975-03-15", PHONE=[{"VALUE": "+79001112244"}]
            )
            # three customers with cards and no birth date
            phones = [[{"VALUE": f"+7900111226{n}"}] for n in range(3)]
            nameless = [
                add_contact(h, f"Клиент{n}", "Безданных", PHONE=phones[n], **{DOCTOR: cls})
                for n in range(3)
            ]
            for contact in nameless:
                await until(h, lambda c=contact: h.contact(c).get(CARD))
            await until(h, lambda: quiet_outbox(h))

            await daily_round(h.services, h.connection, now)
            await run_notify(h.services, h.connection.portal_id)
            await until(h, lambda: quiet_outbox(h))
            assert notices(h, "Завтра, 15.03, день рождения у клиента Глеб Незнакомый")
            [digest] = notices(h, "не указана дата рождения")
            message = digest["MESSAGE"]
            for n, contact in enumerate(nameless):
                assert f"Клиент{n} Безданных (контакт №{contact})" in message
            assert f"Глеб Незнакомый (контакт №{gleb})" in message  # and he has no card
            assert "нет бонусной карты" in message
            # the next round tells nothing again
            assert (await daily_round(h.services, h.connection, now)).queued == 0
