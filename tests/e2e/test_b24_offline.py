"""Offline events end to end (issue 17, item 7): a Kopilka the portal cannot reach reads the
portal's offline queue; events raised while it is down are all handled once it is back, none
twice, also when a worker died between reading a batch and clearing it."""

from __future__ import annotations

import asyncio
import time
from contextlib import suppress
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from b24emu import Faults
from kopilka.bitrix24.connections import portal_program
from kopilka.bitrix24.offline.delivery import DeliveryChange, OfflineRefused, set_delivery
from kopilka.bitrix24.offline.drain import drain_portal, handle, reserve
from kopilka.bitrix24.offline.queries import delivery_of, forget_process
from kopilka.config import Settings
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import b24_dirty_deals, ledger_transactions
from kopilka.process.worker import run_worker
from tests.b24harness import Harness, kopilka_on_emulator

pytestmark = pytest.mark.timeout(120)

FAST = Settings(
    b24_interval=0.05,
    b24_burst=10,
    b24_offline_poll_seconds=1,
    b24_offline_signal_seconds=1,
    b24_offline_batch=3,
)


async def switch(h: Harness, mode: str) -> DeliveryChange:
    async def work(conn: AsyncConnection) -> DeliveryChange:
        _book, program = await portal_program(conn, h.connection)
        return await set_delivery(
            conn,
            h.services.client_for(h.connection),
            h.connection,
            program,
            mode,
            h.web_url + "/b24/events",
            now=h.services.now(),
            signal_seconds=1,
        )

    return await run_in_transaction(h.engine, work)


def queued(h: Harness) -> list[Any]:
    return list(h.portal.events.offline.records.values())


async def accruals(h: Harness) -> dict[str, int]:
    async with h.engine.connect() as conn:
        rows = await conn.execute(
            select(ledger_transactions.c.reference, func.count())
            .where(
                ledger_transactions.c.portal_id == h.connection.portal_id,
                ledger_transactions.c.kind == "accrual",
            )
            .group_by(ledger_transactions.c.reference)
        )
        return {str(r[0]): int(r[1]) for r in rows}


async def drained(h: Harness, timeout: float = 40.0) -> None:
    """The queue read to the end (Kopilka's own writes come back as records too) and the
    syncs done, twice in a row."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 2:
        assert time.monotonic() < deadline, f"not drained: {len(queued(h))} records left"
        await h.settle()
        quiet = quiet + 1 if not queued(h) else 0
        await asyncio.sleep(0.2)


@pytest.mark.parametrize(
    ("strict", "lost"),
    [(False, False), (True, False), (False, True)],
    ids=["lax-reread", "strict-reread", "process-id-lost"],
)
async def test_events_raised_while_kopilka_is_down_are_each_handled_once(
    committed_engine: Any, strict: bool, lost: bool
) -> None:
    """``lost``: the reservation's answer never reached Kopilka (its ``process_id`` was not
    stored): the batch is found by ``event.offline.list`` and adopted."""
    async with kopilka_on_emulator(committed_engine, app=True, worker=False, settings=FAST) as h:
        portal = h.portal
        portal.events.offline.strict_reread = strict
        change = await switch(h, "offline")
        assert change.previous == "online"
        offline = {b.event for b in portal.events.bindings.values() if b.offline}
        online = {b.event for b in portal.events.bindings.values() if not b.offline}
        assert {"ONCRMDEALADD", "ONCRMDEALUPDATE"} <= offline
        assert online == {"ONAPPUNINSTALL", "ONOFFLINEEVENT"}

        # Kopilka is down: nothing the portal sends reaches it, and no worker runs.
        portal.faults = Faults(drop_events=1.0)
        buyers = [h.add_contact(f"Клиент {n}") for n in range(3)]
        deals = [h.add_deal(buyer, "10000") for buyer in buyers for _ in range(2)]
        for deal in deals:
            h.move(deal, "WON")
            h.call("crm.deal.update", {"id": deal, "fields": {"COMMENTS": "оплачено"}})
        names = [(r.event, r.data["FIELDS"]["ID"]) for r in queued(h)]
        assert len(names) == len(set(names))  # one record per object and event
        assert {("ONCRMDEALUPDATE", str(d)) for d in deals} <= set(names)
        assert await accruals(h) == {}

        # A worker reserved a batch and hinted it, then died before clearing it.
        client = h.services.client_for(h.connection)
        batch = await reserve(h.services, client, h.connection.portal_id, None, 3)
        assert len(batch.events) == 3
        await handle(h.services, h.connection.portal_id, batch)
        async with h.engine.connect() as conn:
            assert (await delivery_of(conn, h.connection.portal_id)).process_id == batch.process_id
        if lost:
            assert batch.process_id is not None
            await run_in_transaction(
                h.engine,
                lambda conn: forget_process(conn, h.connection.portal_id, batch.process_id),
            )

        # Kopilka is back: its reader runs first (the job's body, before anything else can
        # hint the deals: the sweep and the daily run would find them too)...
        portal.faults = Faults()
        report = await drain_portal(h.services, h.connection.portal_id)
        assert report.read == len(names)  # the stranded batch's three read again, none lost
        async with h.engine.connect() as conn:
            hinted = dict(
                (
                    await conn.execute(
                        select(b24_dirty_deals.c.deal_id, b24_dirty_deals.c.source).where(
                            b24_dirty_deals.c.portal_id == h.connection.portal_id
                        )
                    )
                ).all()
            )
            assert (await delivery_of(conn, h.connection.portal_id)).process_id is None
        assert set(hinted) == set(deals)
        assert set(hinted.values()) <= {"oncrmdealadd", "oncrmdealupdate"}
        assert queued(h) == []
        # ... then the worker settles them (and reads what Kopilka's own writes queue).
        worker = asyncio.create_task(
            run_worker(h.services, concurrency=2, install_signal_handlers=False, heartbeat=1.0)
        )
        try:
            await drained(h)
        finally:
            worker.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(worker, 10)

        for buyer in buyers:
            assert (await h.balance(buyer)).available == 2 * 500_00  # 5 % of 10 000, twice
        counted = await accruals(h)
        assert sorted(counted.values()) == [1] * len(deals), counted
        async with h.engine.connect() as conn:
            state = await delivery_of(conn, h.connection.portal_id)
        assert state.process_id is None
        assert state.processed > len(names)  # the job read what Kopilka's writes queued
        assert h.call("crm.contact.get", {"id": buyers[0]})["UF_CRM_KOP_BALANCE"] == "1000"


async def test_switching_back_online_reads_what_is_left_and_binds_the_handler(
    committed_engine: Any,
) -> None:
    async with kopilka_on_emulator(committed_engine, app=True, settings=FAST) as h:
        await switch(h, "offline")
        buyer = h.add_contact("Анна")
        deal = h.add_deal(buyer, "10000")
        h.move(deal, "WON")
        await drained(h)
        assert (await h.balance(buyer)).available == 500_00
        change = await switch(h, "online")
        assert change.previous == "offline"
        bindings = list(h.portal.events.bindings.values())
        assert not [b for b in bindings if b.offline]
        assert "ONOFFLINEEVENT" not in {b.event for b in bindings}
        second = h.add_deal(buyer, "20000")
        h.move(second, "WON")
        await h.settle()  # POSTed to /b24/events again
        assert (await h.balance(buyer)).available == 1_500_00


async def test_offline_is_refused_for_a_webhook_connection(committed_engine: Any) -> None:
    async with kopilka_on_emulator(committed_engine, worker=False, settings=FAST) as h:
        with pytest.raises(OfflineRefused, match="webhook"):
            await switch(h, "offline")
        async with h.engine.connect() as conn:
            assert (await delivery_of(conn, h.connection.portal_id)).mode == "online"


async def test_offline_is_refused_on_a_plan_without_the_extended_mode(
    committed_engine: Any,
) -> None:
    async with kopilka_on_emulator(committed_engine, app=True, worker=False, settings=FAST) as h:
        h.portal.events.offline.features["rest_offline_extended"] = "N"
        before = [(b.event, b.offline) for b in h.portal.events.bindings.values()]
        with pytest.raises(OfflineRefused, match="rest_offline_extended"):
            await switch(h, "offline")
        assert [(b.event, b.offline) for b in h.portal.events.bindings.values()] == before
        async with h.engine.connect() as conn:
            assert (await delivery_of(conn, h.connection.portal_id)).mode == "online"
