"""A portal's sync run: one at a time per portal (an advisory lock), draining the dirty set
chunk by chunk — read, then settle (in bulk where it can, deal by deal where it must), then
write back (the outbox flushed in full batches)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.bitrix24 import outbox
from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.connections import Connection, portal_program
from kopilka.bitrix24.offers import Layout
from kopilka.bitrix24.sync.bulk import settle_many
from kopilka.bitrix24.sync.hints import claim, gather
from kopilka.bitrix24.sync.one import settle_one
from kopilka.bitrix24.sync.plan import close_order
from kopilka.bitrix24.sync.read import Chunk, Scope, read_chunk
from kopilka.bitrix24.sync.runs import (
    SyncReport,
    finish_run,
    note_failure,
    remember_rows_per_deal,
    rows_per_deal,
    start_run,
    touch,
)
from kopilka.db.engine import run_in_transaction
from kopilka.domain.errors import KopilkaError
from kopilka.lifecycle.service import priced_versions
from kopilka.logs import bound

log = logging.getLogger("kopilka.bitrix24.sync")

CHUNK = 500  # deals read per round: 10 list commands + 50 row commands, one or two requests
BULK = 100  # deals settled per transaction when they need nothing but accruals
RETRY_WRITES = (0.5, 2.0, 5.0)  # seconds before re-sending writes left pending; then the sweep
SYNC_LOCK = 0x6B6F70  # advisory lock namespace: one sync per portal


async def sync_portal(
    engine: AsyncEngine,
    client: Bitrix24Client,
    connection: Connection,
    *,
    now: Callable[[], datetime],
    chunk: int = CHUNK,
    comments: bool = True,
) -> SyncReport:
    """Drain the portal's dirty deals. Safe to call from any number of processes at once.
    ``comments=False`` leaves the deal timelines alone (one write per deal saved)."""
    report = SyncReport()
    async with engine.connect() as lock_conn:
        await lock_conn.execute(
            text("SELECT pg_advisory_lock(:ns, :portal)"),
            {"ns": SYNC_LOCK, "portal": connection.portal_id},
        )
        await lock_conn.commit()
        run_id = await run_in_transaction(
            engine, lambda conn: start_run(conn, connection.portal_id)
        )
        try:
            with bound(portal_id=connection.portal_id):
                await _drain(engine, client, connection, now, chunk, report, comments)
        finally:
            await run_in_transaction(engine, lambda conn: finish_run(conn, run_id, report))
            await lock_conn.execute(
                text("SELECT pg_advisory_unlock(:ns, :portal)"),
                {"ns": SYNC_LOCK, "portal": connection.portal_id},
            )
            await lock_conn.commit()
    return report


async def _drain(
    engine: AsyncEngine,
    client: Bitrix24Client,
    connection: Connection,
    now: Callable[[], datetime],
    chunk: int,
    report: SyncReport,
    comments: bool,
) -> None:
    portal_id = connection.portal_id
    async with engine.connect() as conn:
        book, program = await portal_program(conn, connection, now())
        versions = await priced_versions(conn, portal_id)
    layout = (
        Layout.from_json(connection.field_map.get("offers_list")) if program.discounts else None
    )
    scope = Scope(portal_id, book, program, layout, comments, versions)
    async with engine.connect() as conn:
        per_deal = await rows_per_deal(conn, portal_id)
    skip: set[int] = set()
    while True:
        await gather(engine, portal_id, chunk)
        claimed = await claim(engine, portal_id, chunk, skip)
        if claimed:
            read = await read_chunk(engine, client, scope, list(claimed), rows_per_deal=per_deal)
            if read.snap.rows_per_deal and not per_deal:
                per_deal = True
                log.warning("portal %s refuses a list of owners for product rows", portal_id)
                await run_in_transaction(engine, lambda c: remember_rows_per_deal(c, portal_id))
            claimed = await _park_unreadable(engine, portal_id, read, claimed, skip, report)
            # the deals won earlier first: a deal's level is judged by its contacts' earlier wins
            ids = close_order(read.snap.deals, list(claimed))
            for at in range(0, len(ids), BULK):  # a part, then the deals it left, in order
                part = {d: claimed[d] for d in ids[at : at + BULK]}
                declined = list(part)
                if layout is None:  # per-contact offers hold points per contact: deal by deal
                    declined = await _settle_in_bulk(engine, scope, read, part, now, report)
                for deal_id in declined:
                    if not await _settle_alone(
                        engine, scope, read, deal_id, claimed[deal_id], now, report
                    ):
                        skip.add(deal_id)
        # full batches now; the remainder goes with the next round's, or at the end
        report.writes += await outbox.flush(engine, client, portal_id, full_only=bool(claimed))
        if not claimed:
            break
    for pause in RETRY_WRITES:  # writes refused or unanswered this round get a few more tries
        async with engine.connect() as conn:
            if not await outbox.pending_count(conn, portal_id):
                break
        await asyncio.sleep(pause)
        report.writes += await outbox.flush(engine, client, portal_id)
    await run_in_transaction(engine, lambda conn: touch(conn, portal_id))


async def _park_unreadable(
    engine: AsyncEngine,
    portal_id: int,
    read: Chunk,
    claimed: dict[int, int],
    skip: set[int],
    report: SyncReport,
) -> dict[int, int]:
    """Park the deals the portal would not show (with its reason, until their next try); the
    others of the chunk go on. Returns those."""
    unreadable = {d: r for d, r in read.snap.unreadable.items() if d in claimed}
    if not unreadable:
        return claimed

    async def park(conn: AsyncConnection) -> None:
        for deal_id, reason in unreadable.items():
            await note_failure(conn, portal_id, deal_id, reason, version=claimed[deal_id])

    await run_in_transaction(engine, park)
    for deal_id, reason in unreadable.items():
        log.warning("deal %s of portal %s not read: %s", deal_id, portal_id, reason)
    skip |= set(unreadable)
    report.failed += sorted(unreadable)
    return {d: v for d, v in claimed.items() if d not in unreadable}


async def _settle_alone(
    engine: AsyncEngine,
    scope: Scope,
    read: Chunk,
    deal_id: int,
    version: int,
    now: Callable[[], datetime],
    report: SyncReport,
) -> bool:
    """One deal in a transaction of its own; False if the ledger refused it (it is parked with
    the reason until news about it comes)."""

    async def settle(conn: AsyncConnection) -> int:
        return await settle_one(conn, scope, read, deal_id, version, now())

    try:
        with bound(deal_id=deal_id):
            posted = await run_in_transaction(engine, settle)
    except KopilkaError as exc:
        report.failed.append(deal_id)
        error: Exception = exc
        log.warning("deal %s of portal %s not settled: %s", deal_id, scope.portal_id, error)
        await run_in_transaction(
            engine, lambda conn: note_failure(conn, scope.portal_id, deal_id, error)
        )
        return False
    report.deals += 1
    report.posted += posted
    return True


async def _settle_in_bulk(
    engine: AsyncEngine,
    scope: Scope,
    read: Chunk,
    claimed: Mapping[int, int],
    now: Callable[[], datetime],
    report: SyncReport,
) -> list[int]:
    """Settle the deals that need nothing but accruals, BULK to a transaction; returns the
    others, in claimed order, for the deal-by-deal path. A part whose transaction fails goes
    deal by deal as a whole, which finds the deal at fault."""
    ids = list(claimed)
    left: set[int] = set()
    for at in range(0, len(ids), BULK):
        part = {d: claimed[d] for d in ids[at : at + BULK]}

        async def settle(
            conn: AsyncConnection, part: Mapping[int, int] = part
        ) -> tuple[int, list[int]]:
            return await settle_many(conn, scope, read, part, now())

        try:
            posted, declined = await run_in_transaction(engine, settle)
        except KopilkaError as exc:
            log.info("%s deals of portal %s go deal by deal: %s", len(part), scope.portal_id, exc)
            left |= set(part)
            continue
        report.deals += len(part) - len(declined)
        report.posted += posted
        left |= set(declined)
    return [d for d in ids if d in left]
