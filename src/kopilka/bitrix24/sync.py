"""Deal sync (DESIGN D4, D5): make the ledger match what the portal says now, deal by deal,
reading and writing many deals per request.

An event, the sweep or a backfill only marks a deal dirty. The portal's sync drains the dirty set
in chunks: one batched read per chunk, then one transaction per deal that settles its ledger
(posting only the difference), records what was seen, queues the portal writes (contact fields,
the points discount on the product rows, a timeline comment per ledger change) and clears the
deal's hint if no newer hint arrived meanwhile. The writes then go out in full batches.

Kopilka's own writes cause events too. They end quietly: the re-read deal settles to the same
ledger, so nothing new is posted and nothing new is written.

One sync per portal runs at a time (a PostgreSQL advisory lock, whoever starts it: a worker, the
CLI or a test); ledger work per deal is serialised again by the ledger's own deal lock.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.bitrix24 import outbox
from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.connections import Connection, portal_program
from kopilka.bitrix24.mapping import (
    Row,
    applied_total,
    base_prices,
    build_deal,
    parse_datetime,
    rows_for_write,
    spread_discount,
    to_int,
)
from kopilka.bitrix24.mapping import record as remember_discount
from kopilka.bitrix24.offers import (
    Layout,
    applied_for,
    applied_text,
    element_code,
    element_write,
    offers_text,
    read_elements,
)
from kopilka.bitrix24.products import Product, needs_catalog, products_for
from kopilka.bitrix24.reader import Snapshot, read_deals
from kopilka.bitrix24.standing import AsOf, histories
from kopilka.bitrix24.writeback import (
    comment_write,
    hold_comment,
    refresh_contacts,
    timeline_comment,
)
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import (
    b24_deal_shares,
    b24_deals,
    b24_dirty_deals,
    b24_sync_runs,
    b24_sync_state,
)
from kopilka.domain.deal import CustomerHistory, Deal, StageSemantic
from kopilka.domain.effects import DealEffects, Redemption
from kopilka.domain.eligibility import basket
from kopilka.domain.errors import KopilkaError
from kopilka.domain.money import percent_of
from kopilka.domain.offers import offers_for
from kopilka.domain.split import ordered, split_total
from kopilka.domain.transfer import product_to_deal
from kopilka.ledger.book import ensure_customer, ensure_customers
from kopilka.ledger.deals import (
    DealToSettle,
    Reconciled,
    deal_reference,
    reconcile_deal,
    settle_deal,
    settle_plain_deals,
    spendable_for_deal,
)
from kopilka.ledger.types import Book, HoldView, Posted
from kopilka.logs import bound
from kopilka.program.model import Program

log = logging.getLogger("kopilka.bitrix24.sync")

CHUNK = 500  # deals read per round: 10 list commands + 50 row commands, one or two requests
BULK = 100  # deals settled per transaction when they need nothing but accruals
RETRY_WRITES = (0.5, 2.0, 5.0)  # seconds before re-sending writes left pending; then the sweep
GATHER_QUIET = 0.5  # seconds without a new hint: the burst is over
GATHER_MAX = 3.0  # seconds a round waits for a burst at most
SYNC_LOCK = 0x6B6F70  # advisory lock namespace: one sync per portal


@dataclass
class SyncReport:
    deals: int = 0
    posted: int = 0
    failed: list[int] = field(default_factory=list)
    writes: int = 0


_MARK_DIRTY = text("""
INSERT INTO b24_dirty_deals (portal_id, deal_id, source)
SELECT :portal_id, unnest(CAST(:deal_ids AS bigint[])), :source
ON CONFLICT (portal_id, deal_id) DO UPDATE SET
    version = b24_dirty_deals.version + 1,
    source = EXCLUDED.source,
    hinted_at = now(),
    last_error = NULL  -- news about the deal: it is worth another try
""")  # built once: the events endpoint runs it for every event


async def mark_dirty(
    conn: AsyncConnection, portal_id: int, deal_ids: Sequence[int], source: str
) -> None:
    """Record hints. A newer hint for a deal being synced bumps its version, so it is not lost."""
    ids = sorted({int(d) for d in deal_ids if int(d) > 0})
    if ids:
        await conn.execute(_MARK_DIRTY, {"portal_id": portal_id, "deal_ids": ids, "source": source})


async def dirty_count(conn: AsyncConnection, portal_id: int, *, parked: bool = True) -> int:
    """Deals waiting for a sync; ``parked=False`` leaves out those the ledger refused last
    time (they wait for news: a new hint)."""
    query = (
        select(func.count())
        .select_from(b24_dirty_deals)
        .where(b24_dirty_deals.c.portal_id == portal_id)
    )
    if not parked:
        query = query.where(b24_dirty_deals.c.last_error.is_(None))
    return int(await conn.scalar(query) or 0)


_USES_HISTORY: dict[str, bool] = {}


def uses_history(program: Program) -> bool:
    """Whether the program looks at customers' past deals at all (levels, accumulative
    discounts, a condition naming ``history``); if not, no history is read per deal."""
    key = program.hash or program.program
    if key not in _USES_HISTORY:
        _USES_HISTORY[key] = (
            program.levels is not None
            or bool(program.discounts)
            or "history" in program.model_dump_json()
        )
    return _USES_HISTORY[key]


def _deal_selects(program: Program) -> list[str]:
    """Deal fields read besides the standard ones: the points-to-pay field and the fields the
    data transfer writes (to compare before writing)."""
    wanted = {program.fields.deal.pay_with_points}
    wanted |= {c.to for c in program.transfer.product_to_deal if c.to.startswith("UF_")}
    return sorted(w for w in wanted if w)


def _contact_selects(program: Program) -> list[str]:
    wanted = {v for v in program.fields.contact.model_dump().values() if v}
    return sorted(wanted | {"UF_*"})


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
            engine, lambda conn: _start_run(conn, connection.portal_id)
        )
        try:
            with bound(portal_id=connection.portal_id):
                await _drain(engine, client, connection, now, chunk, report, comments)
        finally:
            await run_in_transaction(engine, lambda conn: _finish_run(conn, run_id, report))
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
        book, program = await portal_program(conn, connection)
    layout = (
        Layout.from_json(connection.field_map.get("offers_list")) if program.discounts else None
    )
    skip: set[int] = set()
    while True:
        await _gather(engine, portal_id, chunk)
        async with engine.connect() as conn:
            claimed = {
                int(r.deal_id): int(r.version)
                for r in await conn.execute(
                    select(b24_dirty_deals.c.deal_id, b24_dirty_deals.c.version)
                    .where(
                        b24_dirty_deals.c.portal_id == portal_id,
                        b24_dirty_deals.c.deal_id.not_in(skip or [0]),
                    )
                    .order_by(b24_dirty_deals.c.hinted_at, b24_dirty_deals.c.deal_id)
                    .limit(chunk)
                )
            }
        if claimed:
            snap = await read_deals(
                client,
                list(claimed),
                deal_fields=_deal_selects(program),
                contact_fields=_contact_selects(program),
            )
            elements = await read_elements(client, layout, list(claimed)) if layout else {}
            snap.elements = elements
            products: dict[int, Product] = {}
            sections, properties = needs_catalog(program)
            if sections:
                ids = [to_int(r.raw.get("productId")) or 0 for rs in snap.rows.values() for r in rs]
                products = await products_for(engine, client, portal_id, ids, properties=properties)
            declined = list(claimed)
            if layout is None:  # per-contact offers hold points per contact: deal by deal
                declined = await _settle_in_bulk(
                    engine, book, program, portal_id, snap, products, claimed, now, comments, report
                )
            for deal_id in declined:
                version = claimed[deal_id]

                async def settle(
                    conn: AsyncConnection,
                    d: int = deal_id,
                    v: int = version,
                    s: Snapshot = snap,
                    p: Mapping[int, Product] = products,
                ) -> int:
                    return await _apply(
                        conn, book, program, portal_id, s, p, d, v, now(), comments, layout
                    )

                try:
                    with bound(deal_id=deal_id):
                        posted = await run_in_transaction(engine, settle)
                except KopilkaError as exc:
                    skip.add(deal_id)
                    report.failed.append(deal_id)
                    log.warning("deal %s of portal %s not settled: %s", deal_id, portal_id, exc)

                    async def note(
                        conn: AsyncConnection, d: int = deal_id, e: Exception = exc
                    ) -> None:
                        await _note_failure(conn, portal_id, d, e)

                    await run_in_transaction(engine, note)
                    continue
                report.deals += 1
                report.posted += posted
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
    await run_in_transaction(engine, lambda conn: _touch(conn, portal_id))


async def _settle_in_bulk(
    engine: AsyncEngine,
    book: Book,
    program: Program,
    portal_id: int,
    snap: Snapshot,
    products: Mapping[int, Product],
    claimed: Mapping[int, int],
    now: Callable[[], datetime],
    comments: bool,
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
            return await _apply_many(
                conn, book, program, portal_id, snap, products, part, now(), comments
            )

        try:
            posted, declined = await run_in_transaction(engine, settle)
        except KopilkaError as exc:
            log.info("%s deals of portal %s go deal by deal: %s", len(part), portal_id, exc)
            left |= set(part)
            continue
        report.deals += len(part) - len(declined)
        report.posted += posted
        left |= set(declined)
    return [d for d in ids if d in left]


async def _gather(engine: AsyncEngine, portal_id: int, chunk: int) -> None:
    """Let a burst of hints gather before reading (bigger rounds, fewer requests): wait while
    hints are still arriving, up to GATHER_MAX seconds, unless a full chunk is already there."""
    deadline = time.monotonic() + GATHER_MAX
    while time.monotonic() < deadline:
        async with engine.connect() as conn:
            waiting, quiet = (
                await conn.execute(
                    select(
                        func.count(),
                        func.extract("epoch", func.now() - func.max(b24_dirty_deals.c.hinted_at)),
                    ).where(b24_dirty_deals.c.portal_id == portal_id)
                )
            ).one()
        if not waiting or waiting >= chunk or float(quiet or 0) >= GATHER_QUIET:
            return
        await asyncio.sleep(0.1)


async def _start_run(conn: AsyncConnection, portal_id: int) -> int:
    worker = f"{socket.gethostname()}:{os.getpid()}"
    run_id = await conn.scalar(
        insert(b24_sync_runs)
        .values(portal_id=portal_id, worker=worker)
        .returning(b24_sync_runs.c.id)
    )
    assert run_id is not None
    return int(run_id)


async def _finish_run(conn: AsyncConnection, run_id: int, report: SyncReport) -> None:
    await conn.execute(
        update(b24_sync_runs)
        .where(b24_sync_runs.c.id == run_id)
        .values(
            finished_at=func.clock_timestamp(),
            deals=report.deals,
            postings=report.posted,
            failed=len(report.failed),
        )
    )


async def _note_failure(
    conn: AsyncConnection, portal_id: int, deal_id: int, exc: Exception
) -> None:
    await conn.execute(
        update(b24_dirty_deals)
        .where(b24_dirty_deals.c.portal_id == portal_id, b24_dirty_deals.c.deal_id == deal_id)
        .values(attempts=b24_dirty_deals.c.attempts + 1, last_error=str(exc)[:500])
    )


async def _touch(conn: AsyncConnection, portal_id: int) -> None:
    stmt = insert(b24_sync_state).values(portal_id=portal_id, last_sync_at=func.now())
    await conn.execute(
        stmt.on_conflict_do_update(index_elements=["portal_id"], set_={"last_sync_at": func.now()})
    )


async def _apply(
    conn: AsyncConnection,
    book: Book,
    program: Program,
    portal_id: int,
    snap: Snapshot,
    products: Mapping[int, Product],
    deal_id: int,
    version: int,
    now: datetime,
    comments: bool = True,
    layout: Layout | None = None,
) -> int:
    """One deal in one transaction: settle the ledger, record the snapshot and the contacts'
    shares, queue the writes."""
    previous = (
        await conn.execute(
            select(b24_deals).where(
                b24_deals.c.portal_id == portal_id, b24_deals.c.deal_id == deal_id
            )
        )
    ).first()
    applied: dict[str, list[int]] = dict(previous.applied_discount) if previous else {}
    record = snap.deals.get(deal_id)
    customers: dict[int, int] = {}
    if record is None:  # deleted in the portal: nothing of it stands any more
        contact_ids = list(previous.contact_ids) if previous else []
        for cid in contact_ids:
            customers[cid] = await ensure_customer(conn, portal_id, f"contact:{cid}")
        result = await reconcile_deal(
            conn,
            book,
            reference=deal_reference(deal_id),
            stage="lost",
            effects=DealEffects(deal_id=deal_id, program_hash=program.hash),
            customers=customers,
            now=now,
            hold_ttl=timedelta(hours=program.redemption.hold_ttl_hours),
            source=f"deal {deal_id} deleted",
        )
        posted = list(result.posted)
        if layout is not None:
            for cid in contact_ids:
                paid = await _contact_payment(
                    conn, book, program, deal_id, "lost", cid, customers[cid], None, now
                )
                posted += paid.posted
        effects: DealEffects | None = None
        await _snapshot(conn, portal_id, deal_id, None, contact_ids, 0, applied, previous)
        await _shares(conn, portal_id, program, {deal_id: None})
    else:
        rows = snap.rows.get(deal_id, [])
        deal = build_deal(  # no contact list read: the deal's primary contact alone
            record,
            snap.contact_ids.get(deal_id, []),
            snap.contacts,
            rows,
            applied,
            pay_field=program.fields.deal.pay_with_points,
            now=now,
        )
        deal, won_sections = _with_catalog(deal, products, previous)
        for contact in deal.contacts:
            customers[contact.id] = await ensure_customer(
                conn, portal_id, f"contact:{contact.id}", name=_name(snap, contact.id)
            )
        known = await _histories(conn, portal_id, program, deal, list(customers), now)
        effects, result = await settle_deal(
            conn,
            book,
            program,
            deal,
            customers=customers,
            histories=known,
            now=now,
            source=f"deal {deal_id}",
        )
        posted = list(result.posted)
        holds = [result.hold] if result.hold is not None else []
        extra = 0
        if layout is not None:
            extra, more, more_holds = await _contact_offers(
                conn, book, program, portal_id, layout, snap, deal, known, customers, previous, now
            )
            posted += more
            holds += more_holds
        want = (effects.redemption.amount if effects.redemption else 0) + extra
        applied = await _discount(conn, portal_id, deal_id, record, rows, applied, want)
        await _snapshot(
            conn,
            portal_id,
            deal_id,
            record,
            [c.id for c in deal.contacts],
            deal.opportunity,
            applied,
            previous,
            won_sections,
        )
        await _shares(conn, portal_id, program, {deal_id: deal})
        if deal.stage == "process":
            await _transfer(conn, portal_id, program, record, deal)
        for cid in previous.contact_ids if previous else []:  # a contact taken off the deal
            if cid not in customers:
                customers[cid] = await ensure_customer(conn, portal_id, f"contact:{cid}")
    if comments and record is not None:  # a deleted deal has no timeline to write on
        for tx in posted:
            await timeline_comment(conn, portal_id, deal_id, tx)
        for hold in holds:
            await hold_comment(conn, portal_id, deal_id, hold)
    await refresh_contacts(
        conn,
        book,
        program,
        portal_id,
        list(customers),
        now,
        effects=dict.fromkeys(customers, effects) if effects else None,
    )
    await conn.execute(
        delete(b24_dirty_deals).where(
            b24_dirty_deals.c.portal_id == portal_id,
            b24_dirty_deals.c.deal_id == deal_id,
            b24_dirty_deals.c.version == version,
        )
    )
    return len(posted)


async def _apply_many(
    conn: AsyncConnection,
    book: Book,
    program: Program,
    portal_id: int,
    snap: Snapshot,
    products: Mapping[int, Product],
    claimed: Mapping[int, int],
    now: datetime,
    comments: bool = True,
) -> tuple[int, list[int]]:
    """Many deals in one transaction, in a few statements each kind, when each needs nothing
    but new accruals (most deals: a deal won, a deal synced again). The outcome is the one
    :func:`_apply` reaches deal by deal. Returns what was posted and the deals left for
    :func:`_apply`: deleted ones, ones paying with points, ones with something to undo.
    """
    previous = {
        int(r.deal_id): r
        for r in await conn.execute(
            select(b24_deals).where(
                b24_deals.c.portal_id == portal_id, b24_deals.c.deal_id.in_(list(claimed))
            )
        )
    }
    deals: dict[int, tuple[Deal, dict[str, Any], dict[str, list[int]], Any]] = {}
    names: dict[str, str] = {}
    for deal_id in claimed:
        record = snap.deals.get(deal_id)
        if record is None:
            continue
        before = previous.get(deal_id)
        applied: dict[str, list[int]] = dict(before.applied_discount) if before else {}
        deal = build_deal(
            record,
            snap.contact_ids.get(deal_id, []),
            snap.contacts,
            snap.rows.get(deal_id, []),
            applied,
            pay_field=program.fields.deal.pay_with_points,
            now=now,
        )
        if deal.points_to_pay > 0:
            continue
        deal, won_sections = _with_catalog(deal, products, before)
        deals[deal_id] = (deal, record, applied, won_sections)
        for contact in deal.contacts:
            names[f"contact:{contact.id}"] = _name(snap, contact.id)
        for cid in before.contact_ids if before else []:  # a contact taken off the deal
            names.setdefault(f"contact:{cid}", "")
    customer_ids = await ensure_customers(conn, portal_id, names)
    items = []
    for deal, _, _, _ in deals.values():
        customers = {c.id: customer_ids[f"contact:{c.id}"] for c in deal.contacts}
        known = await _histories(conn, portal_id, program, deal, list(customers), now)
        items.append(DealToSettle(deal, customers, known))
    settled = await settle_plain_deals(conn, book, program, items, now=now)
    posted = 0
    snapshots, shares, touched, effects_of = [], {}, set(), {}
    comment_writes: list[outbox.Write] = []
    for deal_id, (effects, result) in settled.items():
        deal, record, applied, won_sections = deals[deal_id]
        rows = snap.rows.get(deal_id, [])
        applied = await _discount(conn, portal_id, deal_id, record, rows, applied, 0)
        before = previous.get(deal_id)
        snapshots.append(
            _snapshot_row(
                deal_id,
                record,
                [c.id for c in deal.contacts],
                deal.opportunity,
                applied,
                before,
                won_sections,
            )
        )
        shares[deal_id] = deal
        if deal.stage == "process":
            await _transfer(conn, portal_id, program, record, deal)
        for cid in [c.id for c in deal.contacts] + list(before.contact_ids if before else []):
            touched.add(cid)
            effects_of[cid] = effects  # the last deal's, as deal by deal
        if comments:
            comment_writes += [
                comment_write(deal_id, tx) for tx in result.posted if not tx.replayed
            ]
        posted += len(result.posted)
    await _store_snapshots(conn, portal_id, snapshots)
    await _shares(conn, portal_id, program, shares)
    await outbox.queue_writes(conn, portal_id, comment_writes)
    await refresh_contacts(conn, book, program, portal_id, sorted(touched), now, effects=effects_of)
    done = sorted(settled)
    if done:
        await conn.execute(
            delete(b24_dirty_deals).where(
                b24_dirty_deals.c.portal_id == portal_id,
                tuple_(b24_dirty_deals.c.deal_id, b24_dirty_deals.c.version).in_(
                    [(d, claimed[d]) for d in done]
                ),
            )
        )
    return posted, [d for d in claimed if d not in settled]


def _name(snap: Snapshot, contact_id: int) -> str:
    info = snap.contacts.get(contact_id, {})
    return " ".join(str(info.get(k) or "") for k in ("NAME", "LAST_NAME")).strip()


async def _histories(
    conn: AsyncConnection,
    portal_id: int,
    program: Program,
    deal: Deal,
    contact_ids: list[int],
    now: datetime,
) -> dict[int, CustomerHistory]:
    """The contacts' histories as the deal sees them (a won deal: as of its close, so that a
    replayed event cannot change its level), or none if the program never looks at them."""
    if not uses_history(program):
        return {}
    as_of = AsOf(deal.closed_at, deal.id) if deal.stage == "won" and deal.closed_at else None
    return dict(
        await histories(
            conn, portal_id, program, contact_ids, now=now, exclude_deal=deal.id, as_of=as_of
        )
    )


async def _discount(
    conn: AsyncConnection,
    portal_id: int,
    deal_id: int,
    record: dict[str, Any],
    rows: list[Row],
    applied: dict[str, list[int]],
    want: int,
) -> dict[str, list[int]]:
    """Put the points payment and the applied discounts on the product rows as a discount,
    when it differs from what is there. A lost deal keeps its rows as they are."""
    if not rows or str(record.get("STAGE_SEMANTIC_ID")) == "F":
        return applied
    if want == applied_total(rows, applied):
        return applied
    prices = base_prices(rows, applied)
    discount = spread_discount(rows, prices, want)
    await outbox.queue_write(
        conn,
        portal_id,
        key=f"deal:{deal_id}:rows",
        method="crm.deal.productrows.set",
        params={"id": deal_id, "rows": rows_for_write(rows, prices, discount)},
        idempotent=True,
    )
    return remember_discount(rows, prices, discount)


async def _snapshot(
    conn: AsyncConnection,
    portal_id: int,
    deal_id: int,
    record: dict[str, Any] | None,
    contact_ids: list[int],
    amount: int,
    applied: dict[str, list[int]],
    previous: Any,
    won_sections: dict[str, int | None] | None = None,
) -> None:
    row = _snapshot_row(deal_id, record, contact_ids, amount, applied, previous, won_sections)
    await _store_snapshots(conn, portal_id, [row])


def _snapshot_row(
    deal_id: int,
    record: dict[str, Any] | None,
    contact_ids: list[int],
    amount: int,
    applied: dict[str, list[int]],
    previous: Any,
    won_sections: dict[str, int | None] | None = None,
) -> dict[str, Any]:
    """What is recorded of the deal as seen now (a deleted one keeps what was last seen)."""
    if record is None:
        values: dict[str, Any] = {
            "category_id": previous.category_id if previous else 0,
            "stage_id": previous.stage_id if previous else "",
            "semantic": "D",
            "amount": previous.amount if previous else 0,
            "contact_ids": contact_ids,
            "closed_at": previous.closed_at if previous else None,
            "modified_at": previous.modified_at if previous else None,
        }
    else:
        values = {
            "category_id": to_int(record.get("CATEGORY_ID")) or 0,
            "stage_id": str(record.get("STAGE_ID") or ""),
            "semantic": str(record.get("STAGE_SEMANTIC_ID") or "P"),
            "amount": amount,
            "contact_ids": contact_ids,
            "closed_at": parse_datetime(record.get("CLOSEDATE")),
            "modified_at": parse_datetime(record.get("DATE_MODIFY")),
        }
    return values | {"deal_id": deal_id, "applied_discount": applied, "won_sections": won_sections}


async def _store_snapshots(
    conn: AsyncConnection, portal_id: int, rows: Sequence[dict[str, Any]]
) -> None:
    if not rows:
        return
    stmt = insert(b24_deals).values([{"portal_id": portal_id, **r} for r in rows])
    columns = [k for k in rows[0] if k != "deal_id"]
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["portal_id", "deal_id"],
            set_={c: stmt.excluded[c] for c in columns} | {"synced_at": func.now()},
        )
    )


def _with_catalog(
    deal: Deal, products: Mapping[int, Product], previous: Any
) -> tuple[Deal, dict[str, int | None] | None]:
    """The deal's rows with their products' sections and properties. A deal that was already
    won keeps the sections it was counted with (a product moved later does not change its
    points); the sections of a newly won deal are remembered."""
    frozen: Mapping[str, int | None] = (
        previous.won_sections
        if previous is not None and previous.semantic == "S" and previous.won_sections
        else {}
    )
    rows = []
    for row in deal.rows:
        product = products.get(row.product_id or 0)
        key = str(row.product_id or 0)
        section = frozen[key] if key in frozen else (product.section_id if product else None)
        values = product.values() if product else {}
        rows.append(replace(row, section_id=section, properties=values))
    deal = replace(deal, rows=tuple(rows))
    if deal.stage != "won":
        return deal, None
    return deal, {str(r.product_id or 0): r.section_id for r in deal.rows}


async def _shares(
    conn: AsyncConnection, portal_id: int, program: Program, deals: Mapping[int, Deal | None]
) -> None:
    """Each contact's share of each deal while it is won (the base of histories and totals)."""
    if not deals:
        return
    await conn.execute(
        delete(b24_deal_shares).where(
            b24_deal_shares.c.portal_id == portal_id, b24_deal_shares.c.deal_id.in_(list(deals))
        )
    )
    rows = []
    for deal_id, deal in sorted(deals.items()):
        if deal is None or deal.stage != "won" or deal.closed_at is None or not deal.contacts:
            continue
        amounts = split_total(program.split, deal.contacts, basket(program, deal).order_amount)
        rows += [
            {
                "portal_id": portal_id,
                "deal_id": deal_id,
                "contact_id": contact_id,
                "category_id": deal.pipeline_id,
                "closed_at": deal.closed_at,
                "amount": amount,
            }
            for contact_id, amount in amounts.items()
        ]
    if rows:
        await conn.execute(insert(b24_deal_shares).values(rows))


async def _transfer(
    conn: AsyncConnection, portal_id: int, program: Program, record: dict[str, Any], deal: Deal
) -> None:
    """Copy the product's name, dates, code and properties into the deal fields the program
    maps (R-15), when they differ from what the deal shows. The write's own event re-reads the
    deal, finds the values equal and writes nothing: the loop ends."""
    if not program.transfer.product_to_deal:
        return
    row = next((r for r in deal.rows if r.product_id), None)
    if row is None:
        return
    wanted = product_to_deal(program, row)
    changed = {code: value for code, value in wanted.items() if not _same(record.get(code), value)}
    if changed:
        await outbox.queue_write(
            conn,
            portal_id,
            key=f"deal:{deal.id}:transfer",
            method="crm.deal.update",
            params={"id": deal.id, "fields": changed},
            idempotent=True,
        )


def _same(current: Any, wanted: Any) -> bool:
    """Whether the deal already shows ``wanted`` (a date field shows a date-time: compare the
    date part)."""
    if current is None or current == "":
        return wanted is None or wanted == ""
    left, right = str(current), str(wanted)
    if left == right:
        return True
    return len(right) == 10 and left[:10] == right  # "2026-07-01" vs "2026-07-01T03:00:00+03:00"


async def _contact_offers(
    conn: AsyncConnection,
    book: Book,
    program: Program,
    portal_id: int,
    layout: Layout,
    snap: Snapshot,
    deal: Deal,
    known: Mapping[int, CustomerHistory],
    customers: dict[int, int],
    previous: Any,
    now: datetime,
) -> tuple[int, list[Posted], list[HoldView]]:
    """R-13: each contact's offers listed in its element, the manager's choices applied. Returns
    the discount to put on the rows, and what the ledger posted for the contacts' payments."""
    contacts = ordered(deal.contacts)
    order_split = split_total(program.split, contacts, basket(program, deal).order_amount)
    seen = dict(known)
    for c in contacts:
        spendable = await spendable_for_deal(
            conn, book, contact_reference(deal.id, c.id), customers[c.id], now
        )
        seen[c.id] = replace(seen.get(c.id, CustomerHistory()), available_points=spendable)
    offers = offers_for(program, deal, contacts, seen, order_split, now)
    total = 0
    posted: list[Posted] = []
    holds: list[HoldView] = []
    for c in contacts:
        mine = [o for o in offers if o.contact_id == c.id]
        element = snap.elements.get(element_code(deal.id, c.id))
        chosen = applied_for(mine, element, layout, order_split.get(c.id, 0))
        ask = chosen.points_requested if chosen and deal.stage != "lost" else 0
        cap = min(
            seen[c.id].available_points,
            percent_of(order_split.get(c.id, 0), program.redemption.max_share, rounding="down"),
        )
        paid = await _contact_payment(
            conn, book, program, deal.id, deal.stage, c.id, customers[c.id], min(ask, cap), now
        )
        posted += paid.posted
        if paid.hold is not None:
            holds.append(paid.hold)
        taken = min(ask, cap)
        total += (chosen.discount if chosen and deal.stage != "lost" else 0) + taken
        params = element_write(
            layout,
            deal.id,
            c.id,
            _name(snap, c.id),
            element,
            offers_text(mine),
            applied_text(chosen, taken),
        )
        if params is not None:
            await outbox.queue_write(
                conn,
                portal_id,
                key=f"offers:{deal.id}:{c.id}",
                method="lists.element.update" if element is not None else "lists.element.add",
                params=params,
                idempotent=True,
            )
    gone = set(previous.contact_ids if previous else []) - {c.id for c in contacts}
    for cid in sorted(gone):  # a contact taken off the deal pays nothing any more
        if cid not in customers:
            customers[cid] = await ensure_customer(conn, portal_id, f"contact:{cid}")
        paid = await _contact_payment(
            conn, book, program, deal.id, "lost", cid, customers[cid], None, now
        )
        posted += paid.posted
    return total, posted, holds


def contact_reference(deal_id: int, contact_id: int) -> str:
    return f"{deal_reference(deal_id)}:contact:{contact_id}"


async def _contact_payment(
    conn: AsyncConnection,
    book: Book,
    program: Program,
    deal_id: int,
    stage: StageSemantic,
    contact_id: int,
    customer_id: int,
    amount: int | None,
    now: datetime,
) -> Reconciled:
    """One contact's points paying for the deal: held while it is open, taken when it is won,
    given back when it is lost, deleted or the contact leaves it (``amount=None``)."""
    redemption = (
        Redemption(
            contact_id=contact_id,
            requested=amount,
            amount=amount,
            cap=amount,
            capped_by="none",
            rule_inputs={"deal_id": deal_id, "contact_id": contact_id},
            explanation_ru=f"оплата бонусами по сделке №{deal_id}",
            explanation_en=f"paid with points, deal #{deal_id}",
        )
        if amount
        else None
    )
    return await reconcile_deal(
        conn,
        book,
        reference=contact_reference(deal_id, contact_id),
        stage=stage if amount else "lost",
        effects=DealEffects(deal_id, program.hash, redemption=redemption),
        customers={contact_id: customer_id},
        now=now,
        hold_ttl=timedelta(hours=program.redemption.hold_ttl_hours),
        source=f"deal {deal_id}, contact {contact_id}",
    )
