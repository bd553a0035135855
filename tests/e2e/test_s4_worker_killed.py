"""A real worker process killed between the SMS provider's acceptance and the outbox marking the
message sent: the next worker sends it once more (one duplicate, because SMS.ru takes no
idempotency key) and never again; a Bitrix24 chat notice in the same position is not duplicated,
because its TAG makes the portal replace rather than add."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from contextlib import AbstractContextManager

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import notifications
from kopilka.fakes import SmsRuFake
from kopilka.notify.deferred import defer_notify
from kopilka.notify.outbox import queue
from tests.b24harness import kopilka_on_emulator
from tests.e2e.conftest import worker_process

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]


def worker(engine: AsyncEngine, sms: SmsRuFake) -> AbstractContextManager[subprocess.Popen[bytes]]:
    return worker_process(
        engine,
        KOPILKA_B24_TIMEOUT="2",
        KOPILKA_NOTIFY_TIMEOUT="3",  # a claimed message's lease: 3 × 3 + 5 = 14 s
        KOPILKA_SMSRU_API_ID="kill-test",
        KOPILKA_SMSRU_URL=sms.url,
        KOPILKA_QUIET_HOURS="",
    )


async def row(engine: AsyncEngine, key: str) -> tuple[str, int, int]:
    async with engine.connect() as conn:
        found = (
            await conn.execute(
                select(
                    notifications.c.status, notifications.c.attempts, notifications.c.unknown
                ).where(notifications.c.key == key)
            )
        ).one()
    return found.status, found.attempts, found.unknown


async def wait_for(engine: AsyncEngine, key: str, status: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (await row(engine, key))[0] != status:
        assert time.monotonic() < deadline, f"{key} not {status}: {await row(engine, key)}"
        await asyncio.sleep(0.2)


async def test_killed_after_the_provider_accepted(committed_engine: AsyncEngine) -> None:
    with SmsRuFake(api_id="kill-test") as sms:
        async with kopilka_on_emulator(committed_engine, worker=False) as h:
            portal_id = h.connection.portal_id
            sms.stall_next(1, seconds=60, accept=True)  # takes it, answers late

            async def send(conn: AsyncConnection) -> None:
                await queue(
                    conn, portal_id, key="order:1:sms", channel="sms",
                    recipient="+79123456789", body="Ваш заказ готов",
                )  # fmt: skip
                await defer_notify(conn, portal_id)

            await run_in_transaction(h.engine, send)
            with worker(committed_engine, sms) as first:
                deadline = time.monotonic() + 60
                while not sms.messages:  # accepted by the provider…
                    assert time.monotonic() < deadline
                    time.sleep(0.005)
                first.send_signal(signal.SIGKILL)  # …and the worker dies before it hears so
                first.wait(10)
            assert await row(h.engine, "order:1:sms") == ("sending", 1, 0)

            with worker(committed_engine, sms):
                await wait_for(h.engine, "order:1:sms", "sent")
                # one duplicate: the outcome was unknown and SMS.ru has no idempotency key
                assert [m.text for m in sms.messages] == ["Ваш заказ готов"] * 2
                assert await row(h.engine, "order:1:sms") == ("sent", 2, 1)

                # A chat notice the portal took just before a worker died the same way.
                tag = "kopilka|order:1:chat"
                h.call("im.notify.system.add", {"USER_ID": 1, "MESSAGE": "Заказ", "TAG": tag})

                async def crashed(conn: AsyncConnection) -> None:
                    await queue(
                        conn, portal_id, key="order:1:chat", channel="b24_chat",
                        recipient="1", body="Заказ",
                    )  # fmt: skip
                    await conn.execute(
                        update(notifications)
                        .where(notifications.c.key == "order:1:chat")
                        .values(
                            status="sending",
                            attempts=1,
                            lease_until=h.services.now().replace(year=2000),
                        )
                    )
                    await defer_notify(conn, portal_id)

                await run_in_transaction(h.engine, crashed)
                await wait_for(h.engine, "order:1:chat", "sent")
            assert [n["TAG"] for n in h.portal.notifications] == [tag]
            await asyncio.sleep(1)
            assert len(sms.messages) == 2  # and never a third
