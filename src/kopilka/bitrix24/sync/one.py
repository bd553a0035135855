"""Steps 2–4 for one deal, in one transaction: plan and settle its ledger (points paid, earned,
held, reversed — only the difference from what is posted), record what was seen, queue the
portal writes. The path for deals that need more than new accruals: deleted ones, ones paying
with points, ones with something to undo, per-contact offers."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24.mapping import build_deal
from kopilka.bitrix24.sync.contact_offers import contact_offers, contact_payment
from kopilka.bitrix24.sync.plan import (
    plan_deleted,
    plan_outcome,
    priced_by,
    shown_on_deal,
    with_catalog,
)
from kopilka.bitrix24.sync.read import Chunk, Scope, contact_name
from kopilka.bitrix24.sync.seen import deal_histories
from kopilka.bitrix24.sync.shown import payers_available, shows_points
from kopilka.bitrix24.sync.writes import record_outcomes
from kopilka.bitrix24.writeback import hold_comment, refresh_contacts, timeline_comment
from kopilka.db.tables import b24_deals, b24_dirty_deals
from kopilka.domain.effects import DealEffects
from kopilka.ledger.book import ensure_customer
from kopilka.ledger.deals import deal_reference, lock_reference, reconcile_deal, settle_deal
from kopilka.ledger.types import HoldView, Posted


async def settle_one(
    conn: AsyncConnection, scope: Scope, chunk: Chunk, deal_id: int, version: int, now: datetime
) -> int:
    """One deal in one transaction: settle the ledger, record the snapshot and the contacts'
    shares, queue the writes. Returns how many entries were posted."""
    book, program, portal_id, layout = scope.book, scope.program, scope.portal_id, scope.layout
    snap = chunk.snap
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
                paid = await contact_payment(
                    conn, scope, deal_id, "lost", cid, customers[cid], None, now
                )
                posted += paid.posted
        effects: DealEffects | None = None
        await record_outcomes(conn, portal_id, [plan_deleted(deal_id, previous)])
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
        deal, won_sections = with_catalog(deal, chunk.products, previous)
        # a won deal is settled under the version it was priced by (the active one if new)
        priced = scope.priced(priced_by(previous, deal, program.hash))
        for contact in deal.contacts:
            customers[contact.id] = await ensure_customer(
                conn, portal_id, f"contact:{contact.id}", name=contact_name(snap, contact.id)
            )
        known = await deal_histories(conn, portal_id, priced.program, deal, list(customers), now)
        extra = 0
        more: list[Posted] = []
        more_holds: list[HoldView] = []
        if layout is not None:  # the contacts' own payments first: they lower the deal's base
            await lock_reference(conn, priced.book, deal_reference(deal_id))
            extra, by_contacts, more, more_holds = await contact_offers(
                conn, priced, layout, snap, deal, known, customers, previous, now
            )
            deal = replace(deal, points_paid_by_contacts=by_contacts)
        effects, result = await settle_deal(
            conn,
            priced.book,
            priced.program,
            deal,
            customers=customers,
            histories=known,
            now=now,
            source=f"deal {deal_id}",
        )
        posted = list(result.posted) + more
        holds = ([result.hold] if result.hold is not None else []) + more_holds
        want = (effects.redemption.amount if effects.redemption else 0) + extra
        shown = None
        if shows_points(program):
            available = await payers_available(
                conn, book, program, {deal_id: (deal, customers)}, now
            )
            shown = shown_on_deal(
                program,
                deal,
                effects,
                available[deal_id],
                paid_by_contacts=deal.points_paid_by_contacts,
            )
        outcome = plan_outcome(
            priced.program,
            deal,
            record,
            rows,
            applied=applied,
            discount=want,
            previous=previous,
            won_sections=won_sections,
            shown=shown,
        )
        await record_outcomes(conn, portal_id, [outcome])
        for cid in previous.contact_ids if previous else []:  # a contact taken off the deal
            if cid not in customers:
                customers[cid] = await ensure_customer(conn, portal_id, f"contact:{cid}")
    if scope.comments and record is not None:  # a deleted deal has no timeline to write on
        for tx in posted:
            await timeline_comment(conn, portal_id, deal_id, tx, scope.program.locale)
        for hold in holds:
            await hold_comment(conn, portal_id, deal_id, hold, scope.program.locale)
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
