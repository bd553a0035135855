"""Steps 2–4 for many deals in one transaction, when each needs nothing but new accruals (most
deals: a deal won, a deal synced again): every kind of read and write is one statement for the
whole part. Reaches the outcome :mod:`kopilka.bitrix24.sync.one` reaches deal by deal (the
ledger's ``plan_deal`` is shared; a property test compares the two)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24 import outbox
from kopilka.bitrix24.mapping import build_deal
from kopilka.bitrix24.sync.plan import plan_outcome, priced_by, shown_on_deal, with_catalog
from kopilka.bitrix24.sync.read import Chunk, Scope, contact_name
from kopilka.bitrix24.sync.seen import deal_histories, uses_history
from kopilka.bitrix24.sync.shown import payers_available, shows_points
from kopilka.bitrix24.sync.writes import record_outcomes
from kopilka.bitrix24.writeback import comment_write, refresh_contacts
from kopilka.db.tables import b24_deals, b24_dirty_deals
from kopilka.domain.deal import Deal
from kopilka.domain.effects import DealEffects
from kopilka.ledger.book import ensure_customers
from kopilka.ledger.deals import DealToSettle, Reconciled, settle_plain_deals


async def settle_many(
    conn: AsyncConnection, scope: Scope, chunk: Chunk, claimed: Mapping[int, int], now: datetime
) -> tuple[int, list[int]]:
    """Many deals in one transaction, in a few statements each kind, when each needs nothing
    but new accruals (most deals: a deal won, a deal synced again). The outcome is the one
    :func:`~kopilka.bitrix24.sync.one.settle_one` reaches deal by deal. Returns what was posted
    and the deals left for ``settle_one``: deleted ones, ones paying with points, ones with
    something to undo.
    """
    book, program, portal_id, snap = scope.book, scope.program, scope.portal_id, chunk.snap
    previous = {
        int(r.deal_id): r
        for r in await conn.execute(
            select(b24_deals).where(
                b24_deals.c.portal_id == portal_id, b24_deals.c.deal_id.in_(list(claimed))
            )
        )
    }
    deals: dict[int, tuple[Deal, dict[str, Any], dict[str, list[int]], Any]] = {}
    priced: dict[int, Scope] = {}  # the version each deal is settled under
    names: dict[str, str] = {}
    # A contact's second won deal in this part goes deal by deal, after the first is stored:
    # its level may depend on the first (``claimed`` comes in close order).
    judged = any(uses_history(p) for _, p in [(book, program), *scope.versions.values()])
    won_by: set[int] = set()
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
        if judged and deal.stage == "won":
            mine = {c.id for c in deal.contacts}
            seen_before, won_by = won_by & mine, won_by | mine  # a declined deal's too
            if seen_before:
                continue
        deal, won_sections = with_catalog(deal, chunk.products, before)
        deals[deal_id] = (deal, record, applied, won_sections)
        priced[deal_id] = scope.priced(priced_by(before, deal, program.hash))
        for contact in deal.contacts:
            names[f"contact:{contact.id}"] = contact_name(snap, contact.id)
        for cid in before.contact_ids if before else []:  # a contact taken off the deal
            names.setdefault(f"contact:{cid}", "")
    customer_ids = await ensure_customers(conn, portal_id, names)
    groups: dict[str | None, list[DealToSettle]] = {}  # one settle per program version
    for deal_id, (deal, _, _, _) in deals.items():
        customers = {c.id: customer_ids[f"contact:{c.id}"] for c in deal.contacts}
        version = priced[deal_id].program
        known = await deal_histories(conn, portal_id, version, deal, list(customers), now)
        groups.setdefault(version.hash, []).append(DealToSettle(deal, customers, known))
    settled: dict[int, tuple[DealEffects, Reconciled]] = {}
    for items in groups.values():
        at = priced[items[0].deal.id]
        settled |= await settle_plain_deals(conn, at.book, at.program, items, now=now)
    items = [item for group in groups.values() for item in group]
    available: dict[int, int | None] = {}
    if shows_points(program):
        available = await payers_available(
            conn,
            book,
            program,
            {i.deal.id: (i.deal, i.customers) for i in items if i.deal.id in settled},
            now,
        )
    posted = 0
    outcomes, touched, effects_of = [], set(), {}
    comment_writes: list[outbox.Write] = []
    for deal_id, (effects, result) in settled.items():
        deal, record, applied, won_sections = deals[deal_id]
        before = previous.get(deal_id)
        outcomes.append(
            plan_outcome(
                priced[deal_id].program,
                deal,
                record,
                snap.rows.get(deal_id, []),
                applied=applied,
                discount=0,
                previous=before,
                won_sections=won_sections,
                shown=(
                    shown_on_deal(program, deal, effects, available[deal_id])
                    if shows_points(program)
                    else None
                ),
            )
        )
        for cid in [c.id for c in deal.contacts] + list(before.contact_ids if before else []):
            touched.add(cid)
            effects_of[cid] = effects  # the last deal's, as deal by deal
        if scope.comments:
            comment_writes += [
                comment_write(deal_id, tx, scope.program.locale)
                for tx in result.posted
                if not tx.replayed
            ]
        posted += len(result.posted)
    await record_outcomes(conn, portal_id, outcomes)
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
