"""Seed 003 sent its SMS and e-mail through UniSender (issue 15, item 9): scenario S4's accrual and
payment messages, end to end, through the UniSender fake over real HTTP — the same story
``test_s4_cards_notifications`` tells with SMS.ru and SMTP, with the provider chosen in the
settings (examples/aesthetic-medicine.yaml says which)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.config import Settings
from kopilka.fakes import UniSenderFake
from tests.b24harness import kopilka_on_emulator
from tests.e2e.test_s4_cards_notifications import (
    CARD,
    DOCTOR,
    add_contact,
    daytime,
    notices,
    quiet_outbox,
    until,
)

pytestmark = pytest.mark.timeout(300)

#: A wake-up of the notify job can be refused while another waits (notify.deferred.again); the
#: minute tick repairs it, so waits for a message allow for one tick.
TICK = 90.0

SENDER, SENDER_EMAIL, LIST_ID = "Clinic", "bonus@clinic.example", 7


def unisender_settings(fake: UniSenderFake) -> Settings:
    return Settings(
        b24_interval=0.05,
        b24_burst=10,
        sms_provider="unisender",
        email_provider="unisender",
        unisender_api_key="s4-unisender-key",
        unisender_url=fake.url,
        unisender_sms_sender=SENDER,
        unisender_sender_email=SENDER_EMAIL,
        unisender_sender_name="Клиника",
        unisender_list_id=LIST_ID,
        quiet_hours="",
        notify_timeout=2.0,
        notify_backoff=0.2,
        notify_settle_seconds=0.0,  # accruals told at once (the settle window: test_notify_settle)
    )


async def test_s4_accrual_and_payment_messages_go_through_unisender(
    committed_engine: AsyncEngine,
) -> None:
    with UniSenderFake(
        api_key="s4-unisender-key",
        senders=(SENDER,),
        sender_emails=(SENDER_EMAIL,),
        list_ids=(LIST_ID,),
    ) as fake:
        async with kopilka_on_emulator(
            committed_engine,
            program="aesthetic-medicine.yaml",
            settings=unisender_settings(fake),
        ) as h:
            h.call(
                "crm.contact.userfield.add",
                {
                    "fields": {
                        "FIELD_NAME": "DOCTOR_CLASS",
                        "USER_TYPE_ID": "enumeration",
                        "LIST": [{"VALUE": "Косметолог"}],
                    }
                },
            )
            h.services.now = daytime()
            fields = h.call("crm.contact.userfield.list", {"filter": {"FIELD_NAME": DOCTOR}})
            ivan = add_contact(
                h, "Иван", "Петров", PHONE=[{"VALUE": "8 (912) 345-67-89", "VALUE_TYPE": "MOBILE"}],
                EMAIL=[{"VALUE": "ivan@clinic.example", "VALUE_TYPE": "WORK"}],
                **{DOCTOR: int(fields[0]["LIST"][0]["ID"])},
            )  # fmt: skip
            await until(h, lambda: h.contact(ivan).get(CARD) == "+79123456789")

            # UniSender is busy once ("retry_later"): the outbox tries again, and sends once.
            fake.fail_next(1)
            deal = h.add_deal(ivan, "20000")
            h.move(deal, "WON")
            await until(h, lambda: fake.messages and fake.emails, TICK)
            await until(h, lambda: notices(h, "Клиенту Иван Петров начислено"), TICK)
            await until(h, lambda: quiet_outbox(h), TICK)
            [sms] = fake.messages
            assert (sms.phone, sms.sender) == ("79123456789", SENDER)
            assert "Иван, вам начислено 1\u00a0100\u00a0бонусов" in sms.text  # 3 % + 500 welcome
            [mail] = fake.emails
            assert (mail.email, mail.sender_email, mail.list_id) == (
                "ivan@clinic.example",
                SENDER_EMAIL,
                str(LIST_ID),
            )
            assert mail.subject == "Вам начислено 1\u00a0100\u00a0бонусов"
            assert f"за заказ №{deal}" in mail.body

            # Two weeks later (the points were pending) Иван pays 1 000 of a 10 000 ₽ order with
            # points: told by SMS and e-mail through UniSender when the deal is won.
            started, later = datetime.now(UTC), h.services.now() + timedelta(days=15)
            h.services.now = lambda: later + (datetime.now(UTC) - started)
            paid = h.add_deal(ivan, "10000", fields={"UF_CRM_KOP_PAY_POINTS": "1000"})
            await h.settle()
            h.move(paid, "WON")
            await until(h, lambda: [m for m in fake.messages if "списано" in m.text], TICK)
            await until(
                h, lambda: [e for e in fake.emails if e.subject.startswith("Списано")], TICK
            )
            [spent] = [m for m in fake.messages if "списано" in m.text]
            assert spent.text.startswith(
                f"Иван, списано 1\u00a0000\u00a0бонусов в оплату заказа №{paid}"
            )
            [spent_mail] = [e for e in fake.emails if e.subject.startswith("Списано")]
            assert spent_mail.subject == "Списано 1\u00a0000\u00a0бонусов"
