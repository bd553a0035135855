"""Reading a portal's offline queue (§6.7): reserve a batch, hint what it names, clear it.

1. ``event.offline.get`` with ``clear=0`` reserves up to ``limit`` records under a
   ``process_id``, which is stored (committed) **before** anything is done with them.
2. Each record goes through :func:`kopilka.bitrix24.handling.apply_event`, as if POSTed: all
   of a batch in one transaction. A record Kopilka cannot read (an id that is not one) is
   marked with ``event.offline.error`` and left out.
3. ``event.offline.clear`` with that ``process_id`` and the records' ids.

The stored batch is read again (``process_id``) until it gives nothing new, and only then
forgotten; a run that died after step 1 or 2 is resumed so by the next one, and handling a
record twice only hints twice. The docs leave open whether a ``process_id`` re-read also brings
unreserved records along: either way every record read is cleared by id, and the loop ends on
an empty page. A batch reserved whose answer never arrived (or whose ``process_id`` could not be
stored) is found by ``event.offline.list`` (a record with a ``PROCESS_ID``: only Kopilka reads
its application's queue) and adopted. A run is bounded (``MAX_ROUNDS`` pages).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.connections import Connection, get_connection
from kopilka.bitrix24.handling import apply_event, parse_id
from kopilka.bitrix24.offline.queries import (
    delivery_of,
    forget_process,
    note_poll,
    remember_process,
)
from kopilka.db.engine import run_in_transaction
from kopilka.process.services import Services

log = logging.getLogger("kopilka.bitrix24")

#: pages of ``limit`` records read per run at most (the next run, or the next signal, goes on)
MAX_ROUNDS = 20


@dataclass
class Batch:
    process_id: str | None
    events: list[Mapping[str, Any]]

    @property
    def ids(self) -> list[str]:
        return [str(e.get("ID", "")) for e in self.events]


@dataclass
class DrainReport:
    read: int = 0
    hinted: int = 0
    errors: list[str] = field(default_factory=list)  # MESSAGE_IDs marked erroneous
    rounds: int = 0


async def reserve(
    services: Services,
    client: Bitrix24Client,
    portal_id: int,
    process_id: str | None,
    limit: int,
) -> Batch:
    """Step 1: the next records, reserved; the ``process_id`` stored before returning."""
    params: dict[str, Any] = {"clear": 0, "limit": limit}
    if process_id:
        params["process_id"] = process_id
    # write=True: a reservation is a change; one sent twice would strand the first batch
    # (until it is adopted by the next run)
    answer = await client.call("event.offline.get", params, write=True)
    answer = answer if isinstance(answer, dict) else {}
    events = [e for e in answer.get("events") or [] if isinstance(e, Mapping)]
    pid = str(answer.get("process_id") or process_id or "") or None
    if events and pid is None:
        raise RuntimeError("event.offline.get reserved records without a process_id")
    if events and pid != process_id:
        assert pid is not None
        await run_in_transaction(
            services.engine,
            lambda conn: remember_process(conn, portal_id, pid, services.now()),
        )
    return Batch(pid, events)


def _record(event: Mapping[str, Any]) -> tuple[str, int | None]:
    """(event name, FIELDS.ID) of a queue record; ValueError when its id is not one."""
    data = event.get("EVENT_DATA")
    fields = data.get("FIELDS") if isinstance(data, Mapping) else None
    raw = fields.get("ID") if isinstance(fields, Mapping) else None
    return str(event.get("EVENT_NAME", "")).upper(), parse_id(raw)


async def handle(services: Services, portal_id: int, batch: Batch) -> tuple[int, list[str]]:
    """Step 2: every record's hints, in one transaction; (hinted, bad MESSAGE_IDs)."""
    bad: list[str] = []
    readable: list[tuple[str, int | None]] = []
    for event in batch.events:
        try:
            readable.append(_record(event))
        except ValueError:
            bad.append(str(event.get("MESSAGE_ID", "")))

    async def hint(conn: AsyncConnection) -> int:
        done = 0
        for name, item_id in readable:
            done += await apply_event(conn, portal_id, name, item_id)
        return done

    return await run_in_transaction(services.engine, hint), bad


async def release(client: Bitrix24Client, batch: Batch, bad: list[str]) -> None:
    """Step 3: the batch cleared (the unreadable ones marked erroneous instead)."""
    assert batch.process_id is not None
    if bad:
        await client.call(
            "event.offline.error",
            {"process_id": batch.process_id, "message_id": bad},
            write=True,
        )
    bad_set = set(bad)
    ids = [
        str(e.get("ID", "")) for e in batch.events if str(e.get("MESSAGE_ID", "")) not in bad_set
    ]
    if ids:
        await client.call(
            "event.offline.clear", {"process_id": batch.process_id, "id": ids}, write=True
        )


async def stranded_process(client: Bitrix24Client) -> str | None:
    """A batch reserved and never cleared whose ``process_id`` Kopilka does not hold."""
    rows = await client.call(
        "event.offline.list",
        {"filter": {"!PROCESS_ID": "", "ERROR": 0}, "order": {"ID": "ASC"}},
    )
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, Mapping) or str(row.get("ERROR", "0")) == "1":
            continue
        pid = str(row.get("PROCESS_ID") or "")
        if pid:
            return pid
    return None


async def _forget(services: Services, portal_id: int, process_id: str) -> None:
    async def work(conn: AsyncConnection) -> None:
        await forget_process(conn, portal_id, process_id)

    await run_in_transaction(services.engine, work)


async def drain_portal(services: Services, portal_id: int) -> DrainReport:
    """Read the portal's queue until it is empty or ``MAX_ROUNDS`` pages were read."""
    report = DrainReport()
    async with services.engine.connect() as conn:
        connection: Connection = await get_connection(conn, portal_id)
        process_id = (await delivery_of(conn, portal_id)).process_id
    if connection.status != "active" or connection.mode != "app":
        return report
    client = services.client_for(connection)
    limit = services.settings.b24_offline_batch
    error: str | None = None
    seen: set[str] = set()
    try:
        process_id = process_id or await stranded_process(client)
        while report.rounds < MAX_ROUNDS:
            report.rounds += 1
            batch = await reserve(services, client, portal_id, process_id, limit)
            fresh = [e for e in batch.events if str(e.get("ID", "")) not in seen]
            if not fresh:
                if process_id is None:
                    break
                await _forget(services, portal_id, process_id)
                process_id = None
                continue
            process_id = batch.process_id
            hinted, bad = await handle(services, portal_id, batch)
            await release(client, batch, bad)
            seen.update(batch.ids)
            report.read += len(fresh)
            report.hinted += hinted
            report.errors += bad
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        await run_in_transaction(
            services.engine,
            lambda conn: note_poll(conn, portal_id, services.now(), report.read, error),
        )
    return report
