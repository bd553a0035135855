"""Scenario S4 (aesthetic medicine), the card, registration, notification and birthday parts, end
to end: a manager works in the emulated portal, Bitrix24 posts its events to Kopilka over HTTP,
the worker issues cards and sends SMS to a local SMS.ru (real HTTP) and e-mail to a real local
SMTP server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.api.keys import create_api_key
from kopilka.config import Settings
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import cards, contact_hints, lots, notifications, registrations
from kopilka.fakes import SmsRuFake
from kopilka.fakes.smtp import SmtpSink
from kopilka.notify.birthdays import daily_round
from kopilka.notify.service import run_notify
from kopilka.process.devstack import Stack
from tests.b24harness import kopilka_on_emulator

pytestmark = pytest.mark.timeout(240)

CARD = "UF_CRM_KOP_CARD"
DOCTOR = "UF_CRM_DOCTOR_CLASS"


def s4_settings(sms: SmsRuFake, smtp: SmtpSink, **more: Any) -> Settings:
    more.setdefault("notify_settle_seconds", 0.0)  # accruals told at once (see test_settle)
    return Settings(
        b24_interval=0.05,
        b24_burst=10,
        smsru_api_id="s4-api-id",
        smsru_url=sms.url,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_tls="none",
        smtp_from="Клиника <bonus@clinic.example>",
        quiet_hours="",
        notify_timeout=2.0,
        notify_backoff=0.2,
        **more,
    )


@asynccontextmanager
async def s4_stack(
    engine: AsyncEngine, sms: SmsRuFake, smtp: SmtpSink, **more: Any
) -> AsyncIterator[Stack]:
    async with kopilka_on_emulator(
        engine, program="aesthetic-medicine.yaml", settings=s4_settings(sms, smtp, **more)
    ) as h:
        h.call(
            "crm.contact.userfield.add",
            {
                "fields": {
                    "FIELD_NAME": "DOCTOR_CLASS",
                    "USER_TYPE_ID": "enumeration",
                    "EDIT_FORM_LABEL": {"ru": "Классификатор врача"},
                    "LIST": [{"VALUE": "Косметолог"}, {"VALUE": "Дерматолог"}],
                }
            },
        )
        h.services.now = daytime()
        yield h


def daytime() -> Callable[[], datetime]:
    """A clock running from tomorrow noon in Moscow: later than the database's clock, and
    outside the program's quiet hours (21:00-09:00) for the length of a test."""
    real = datetime.now(UTC)
    noon = (real + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    return lambda: datetime.now(UTC) + (noon - real)


async def until(h: Stack, check: Callable[[], Any | Awaitable[Any]], timeout: float = 45.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        await h.portal.flush_events()
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            async with h.engine.connect() as conn:
                rows = (
                    await conn.execute(
                        select(
                            notifications.c.key,
                            notifications.c.channel,
                            notifications.c.status,
                            notifications.c.last_error,
                        )
                    )
                ).all()
            raise TimeoutError(f"not true within {timeout}s; outbox: {rows}")
        await asyncio.sleep(0.2)


def doctor_class(h: Stack) -> int:
    fields = h.call("crm.contact.userfield.list", {"filter": {"FIELD_NAME": DOCTOR}})
    return int(fields[0]["LIST"][0]["ID"])


def add_contact(h: Stack, name: str, last: str, **fields: Any) -> int:
    return int(
        h.call(
            "crm.contact.add",
            {"fields": {"NAME": name, "LAST_NAME": last, "ASSIGNED_BY_ID": 1, **fields}},
        )
    )


def notices(h: Stack, text: str) -> list[dict[str, Any]]:
    return [n for n in h.portal.notifications if text in n["MESSAGE"]]


async def quiet_outbox(h: Stack) -> bool:
    async with h.engine.connect() as conn:
        busy = await conn.scalar(
            select(func.count())
            .select_from(notifications)
            .where(notifications.c.status.in_(("pending", "sending")))
        )
        hints = await conn.scalar(  # contacts the portal told about, not yet looked at
            select(func.count())
            .select_from(contact_hints)
            .where(contact_hints.c.portal_id == h.connection.portal_id)
        )
    return busy == 0 and hints == 0


async def test_s4_cards_accrual_messages_and_manager_notices(
    committed_engine: AsyncEngine,
) -> None:
    with SmsRuFake(api_id="s4-api-id") as sms, SmtpSink() as smtp:
        async with s4_stack(committed_engine, sms, smtp) as h:
            cls = doctor_class(h)
            # Saved with name, phone and classifier: the card number is the phone, normalised.
            ivan = add_contact(
                h, "Иван", "Петров", PHONE=[{"VALUE": "8 (912) 345-67-89", "VALUE_TYPE": "MOBILE"}],
                EMAIL=[{"VALUE": "ivan@clinic.example", "VALUE_TYPE": "WORK"}],
                **{DOCTOR: cls},
            )  # fmt: skip
            await until(h, lambda: h.contact(ivan).get(CARD) == "+79123456789")
            await until(h, lambda: any("+79123456789" in c for c in contact_comments(h, ivan)))

            # Saved without a phone: one notice to the manager, however often it is saved.
            olga = add_contact(h, "Ольга", "Сидорова", **{DOCTOR: cls})
            await until(h, lambda: notices(h, "не указан телефон"))
            h.call("crm.contact.update", {"id": olga, "fields": {"COMMENTS": "звонила"}})
            await h.settle()
            await until(h, lambda: quiet_outbox(h))  # the card job has looked at that save
            assert len(notices(h, "не указан телефон")) == 1
            assert not h.contact(olga).get(CARD)
            # A phone added later: the next save issues the card.
            h.call(
                "crm.contact.update",
                {"id": olga, "fields": {"PHONE": [{"VALUE": "+7 916 000-11-22"}]}},
            )
            await until(h, lambda: h.contact(olga).get(CARD) == "+79160001122")

            # Without the classifier: not yet a card (the program requires it).
            bare = add_contact(h, "Пётр", "Без-класса", PHONE=[{"VALUE": "89035550199"}])
            # A second contact with Иван's phone: reported, not merged.
            twin = add_contact(
                h, "Иван", "Дубль", PHONE=[{"VALUE": "+79123456789"}], **{DOCTOR: cls}
            )
            await until(h, lambda: notices(h, "уже принадлежит"))
            assert f"№{ivan}" in notices(h, "уже принадлежит")[0]["MESSAGE"]
            await until(h, lambda: quiet_outbox(h))  # both saves looked at, not just the twin's
            async with h.engine.connect() as conn:
                numbers = (await conn.execute(select(cards.c.number))).scalars().all()
            assert sorted(numbers) == ["+79123456789", "+79160001122"]
            assert not h.contact(twin).get(CARD)
            assert not h.contact(bare).get(CARD)

            # Иван wins a 20 000 ₽ deal: SMS and e-mail to him, a chat notice to his manager.
            deal = h.add_deal(ivan, "20000")
            h.move(deal, "WON")
            await until(h, lambda: sms.messages and smtp.to("ivan@clinic.example"))
            await until(h, lambda: notices(h, "Клиенту Иван Петров начислено"))
            [text] = [m.text for m in sms.messages if m.phone == "79123456789"]
            assert "Иван, вам начислено 1\u00a0100\u00a0бонусов" in text  # 3 % + 500 welcome
            [mail] = smtp.to("ivan@clinic.example")
            assert mail["Subject"] == "Вам начислено 1\u00a0100\u00a0бонусов"
            assert f"за заказ №{deal}" in mail.get_content()
            assert not notices(h, "нет e-mail")

            # Ольга has no e-mail: an SMS, and her manager is asked for the address.
            won = h.add_deal(olga, "5000")
            h.move(won, "WON")
            await until(h, lambda: notices(h, "нет e-mail"))
            await until(h, lambda: [m for m in sms.messages if m.phone == "79160001122"])
            assert smtp.to("olga") == []
            await until(h, lambda: quiet_outbox(h))
            # nothing twice: one SMS per accrual, one e-mail
            assert len([m for m in sms.messages if m.phone == "79123456789"]) == 1
            assert len(smtp.to("ivan@clinic.example")) == 1

            # Two weeks later (the points were pending) Иван pays 1 000 of a 10 000 ₽ order with
            # points: when the deal is won he is told by SMS and e-mail.
            started, later = datetime.now(UTC), h.services.now() + timedelta(days=15)
            h.services.now = lambda: later + (datetime.now(UTC) - started)
            paid = h.add_deal(ivan, "10000", fields={"UF_CRM_KOP_PAY_POINTS": "1000"})
            await h.settle()
            h.move(paid, "WON")
            await until(h, lambda: [m for m in sms.messages if "списано" in m.text])
            await until(h, lambda: len(smtp.to("ivan@clinic.example")) == 3)
            [spent] = [m for m in sms.messages if "списано" in m.text]
            assert spent.text.startswith(
                f"Иван, списано 1\u00a0000\u00a0бонусов в оплату заказа №{paid}"
            )
            subjects = [m["Subject"] for m in smtp.to("ivan@clinic.example")]
            assert "Списано 1\u00a0000\u00a0бонусов" in subjects


def contact_comments(h: Stack, contact_id: int) -> list[str]:
    items = h.call(
        "crm.timeline.comment.list",
        {"filter": {"ENTITY_ID": contact_id, "ENTITY_TYPE": "contact"}},
    )
    return [str(c["COMMENT"]) for c in items]


async def register(h: Stack, key: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=h.web_url) as client:
        return await client.post(
            "/api/v1/registrations",
            json=body,
            headers={"Authorization": f"Bearer {key}", **headers},
        )


async def test_s4_site_registration_contact_card_and_delayed_todo(
    committed_engine: AsyncEngine,
) -> None:
    with SmsRuFake(api_id="s4-api-id") as sms, SmtpSink() as smtp:
        async with s4_stack(committed_engine, sms, smtp) as h:
            portal_id = h.connection.portal_id
            key = await run_in_transaction(
                h.engine,
                lambda conn: create_api_key(conn, portal_id, "site", ["registrations:write"]),
            )
            contacts_before = len(h.call("crm.contact.list", {"select": ["ID"]}))
            body = {
                "name": "Мария",
                "last_name": "Соколова",
                "phone": "8 926 111-22-33",
                "email": "maria@example.ru",
                "birth_date": "1988-04-02",
                "consent": True,
            }
            first = await register(h, key, body, **{"Idempotency-Key": "site-form-1"})
            assert first.status_code == 202, first.text
            again = await register(h, key, body, **{"Idempotency-Key": "site-form-1"})
            assert again.status_code == 200
            assert again.json()["id"] == first.json()["id"]

            async def done() -> Any:
                async with h.engine.connect() as conn:
                    return (
                        await conn.execute(
                            select(registrations).where(registrations.c.status == "done")
                        )
                    ).first()

            row = await until(h, done)
            assert row.contact_created is True
            contact = h.contact(row.contact_id)
            assert contact["NAME"] == "Мария"
            assert contact["PHONE"][0]["VALUE"] in ("+79261112233", "79261112233")
            await until(h, lambda: h.contact(row.contact_id).get(CARD) == "+79261112233")
            assert len(h.call("crm.contact.list", {"select": ["ID"]})) == contacts_before + 1

            # An existing customer's phone (Анна of the seed): found, not duplicated.
            anna = await register(
                h, key, {"name": "Анна", "phone": "+7 916 123-45-67", "consent": True}
            )
            assert anna.status_code == 202

            async def anna_done() -> Any:
                async with h.engine.connect() as conn:
                    return (
                        await conn.execute(
                            select(registrations).where(
                                registrations.c.id == anna.json()["id"],
                                registrations.c.status == "done",
                            )
                        )
                    ).first()

            anna_row = await until(h, anna_done)
            assert anna_row.contact_created is False
            assert anna_row.contact_id == 1
            assert len(h.call("crm.contact.list", {"select": ["ID"]})) == contacts_before + 1

            # The to-do waits for the program's delay (60 minutes)…
            await run_notify(h.services, portal_id)
            assert not [a for a in h.portal.activities.values() if a["ownerId"] == row.contact_id]
            # …and comes when it has passed.
            later = h.services.now() + timedelta(minutes=61)
            h.services.now = lambda: later
            await run_notify(h.services, portal_id)
            await until(h, lambda: quiet_outbox(h))
            [todo] = [a for a in h.portal.activities.values() if a["ownerId"] == row.contact_id]
            assert todo["ownerTypeId"] == 3
            assert todo["responsibleId"] == 1
            assert "регистрации" in todo["title"]
            assert "+79261112233" in todo["description"]
            await run_notify(h.services, portal_id)
            assert len(h.portal.activities) == 2  # Мария's and Анна's, once each

            # Issuing a card by hand through the API (scope cards:write).
            cards_key = await run_in_transaction(
                h.engine, lambda conn: create_api_key(conn, portal_id, "crm", ["cards:write"])
            )
            nophone = add_contact(h, "Без", "Телефона")
            async with httpx.AsyncClient(
                base_url=h.web_url, headers={"Authorization": f"Bearer {cards_key}"}
            ) as client:
                existing = await client.post(f"/api/v1/contacts/{row.contact_id}/card")
                refused = await client.post(f"/api/v1/contacts/{nophone}/card")
                missing = await client.post("/api/v1/contacts/99999/card")
                wrong = await client.post(
                    "/api/v1/contacts/1/card", headers={"Authorization": f"Bearer {key}"}
                )
                h.call(
                    "crm.contact.update",
                    {"id": nophone, "fields": {"PHONE": [{"VALUE": "+79035550177"}]}},
                )
                issued = await client.post(f"/api/v1/contacts/{nophone}/card")
            assert (existing.status_code, existing.json()) == (
                200,
                {"status": "exists", "number": "+79261112233", "other_contact": None},
            )
            assert (refused.status_code, refused.json()["error"]["code"]) == (409, "card_no_phone")
            assert missing.status_code == 404
            assert wrong.status_code == 403  # the site's key may register, not issue cards
            assert (issued.status_code, issued.json()["number"]) == (201, "+79035550177")


async def test_s4_birthday_reminders_once_a_year(committed_engine: AsyncEngine) -> None:
    with SmsRuFake(api_id="s4-api-id") as sms, SmtpSink() as smtp:
        async with s4_stack(committed_engine, sms, smtp) as h:
            cls = doctor_class(h)
            now = datetime(2027, 3, 14, 10, 0, tzinfo=UTC)  # 13:00 in Moscow
            h.services.now = lambda: now
            today = add_contact(
                h, "Вера", "Именинница", BIRTHDATE="1980-03-14", PHONE=[{"VALUE": "+79001112233"}],
                EMAIL=[{"VALUE": "vera@example.ru"}], **{DOCTOR: cls},
            )  # fmt: skip
            tomorrow = add_contact(
                h, "Глеб", "Завтрашний", BIRTHDATE="1975-03-15",
                PHONE=[{"VALUE": "+79001112244"}], **{DOCTOR: cls},
            )  # fmt: skip
            unknown = add_contact(
                h, "Нина", "Безданных", PHONE=[{"VALUE": "+79001112255"}], **{DOCTOR: cls}
            )
            for contact in (today, tomorrow, unknown):
                await until(h, lambda c=contact: h.contact(c).get(CARD))
            # A customer without a card: no phone, but points (a won deal).
            nocard = add_contact(h, "Фёдор", "Бескартный", BIRTHDATE="1990-07-01")
            h.move(h.add_deal(nocard, "1000"), "WON")
            await h.settle()

            # The worker's own periodic round (same services, same clock) may run first and
            # queue some of them: what counts is that each reminder below arrives, once.
            await daily_round(h.services, h.connection, now)
            await run_notify(h.services, h.connection.portal_id)
            await until(h, lambda: quiet_outbox(h))  # the worker may have taken some
            assert notices(h, "Завтра, 15.03, день рождения у клиента Глеб Завтрашний")
            assert [n for n in notices(h, "Нина Безданных") if "дата рождения" in n["MESSAGE"]]
            assert [
                n for n in notices(h, "Фёдор Бескартный") if "нет бонусной карты" in n["MESSAGE"]
            ]
            [greeting] = smtp.to("vera@example.ru")
            assert greeting["Subject"] == "С днём рождения, Вера!"
            # The next runs of the day, and of the next day, send nothing again.
            sent = len(h.portal.notifications), len(smtp.messages)
            assert (await daily_round(h.services, h.connection, now)).queued == 0
            later = now + timedelta(days=1)
            h.services.now = lambda: later
            assert (await daily_round(h.services, h.connection, later)).queued == 0
            await run_notify(h.services, h.connection.portal_id)
            await until(h, lambda: quiet_outbox(h))
            assert (len(h.portal.notifications), len(smtp.messages)) == sent
            # Points about to expire (the program: after 365 days; reminders 7 days before).
            h.services.now = lambda: now
            h.move(h.add_deal(today, "10000"), "WON")  # 3 % + the 500 welcome bonus
            await h.settle()
            await until(h, lambda: quiet_outbox(h))
            async with h.engine.connect() as conn:
                ends = await conn.scalar(select(func.max(lots.c.expires_at)))
            assert ends is not None  # a year after the deal was won (the portal's clock)
            soon = ends - timedelta(days=3) + timedelta(hours=9)  # midday in Moscow
            h.services.now = lambda: soon
            await daily_round(h.services, h.connection, soon - timedelta(days=5))
            await run_notify(h.services, h.connection.portal_id)
            await until(h, lambda: quiet_outbox(h))
            assert not [m for m in sms.messages if "сгорят" in m.text]  # 8 days: not yet
            await daily_round(h.services, h.connection, soon)
            await run_notify(h.services, h.connection.portal_id)
            await until(h, lambda: quiet_outbox(h))
            [expiring] = [m for m in sms.messages if "сгорят" in m.text]
            assert expiring.phone == "79001112233"
            on = ends.astimezone(ZoneInfo("Europe/Moscow")).strftime("%d.%m.%Y")
            assert f"Вера, 800\u00a0бонусов сгорят {on}" in expiring.text
            assert [m["Subject"] for m in smtp.to("vera@example.ru")][-1] == "Бонусы скоро сгорят"
            assert (await daily_round(h.services, h.connection, soon)).queued == 0
            # Before 09:00 in the program's time zone the round waits.
            early = datetime(2027, 3, 14, 4, 0, tzinfo=UTC)  # 07:00 in Moscow
            assert (await daily_round(h.services, h.connection, early)).customers == 0
