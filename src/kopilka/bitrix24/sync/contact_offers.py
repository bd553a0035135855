"""Per-contact offers on a multi-contact deal (R-13): each contact's offers listed in the
portal's offers list, the manager's choice applied, and each contact's points payment held, taken
or given back under a reference of its own."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24 import outbox
from kopilka.bitrix24.deal_choices import read_choices, reconcile, store_choice
from kopilka.bitrix24.offers import (
    Layout,
    applied_for,
    applied_text,
    element_code,
    element_write,
    inputs_digest,
    offers_text,
)
from kopilka.bitrix24.reader import Snapshot
from kopilka.bitrix24.sync.read import Scope, contact_name
from kopilka.db.tables import b24_offer_inputs
from kopilka.domain.campaigns import contact_share
from kopilka.domain.deal import CustomerHistory, Deal, StageSemantic
from kopilka.domain.effects import DealEffects, Redemption
from kopilka.domain.eligibility import basket
from kopilka.domain.money import percent_of
from kopilka.domain.offers import offers_for
from kopilka.domain.split import ordered, split_total
from kopilka.domain.texts import say
from kopilka.ledger.book import ensure_customer
from kopilka.ledger.deals import Reconciled, deal_reference, reconcile_deal, spendable_for_deal
from kopilka.ledger.types import HoldView, Posted


async def contact_offers(
    conn: AsyncConnection,
    scope: Scope,
    layout: Layout,
    snap: Snapshot,
    deal: Deal,
    known: Mapping[int, CustomerHistory],
    customers: dict[int, int],
    previous: Any,
    now: datetime,
) -> tuple[int, int, list[Posted], list[HoldView]]:
    """R-13: each contact's offers listed in its element, the manager's choices applied. Returns
    the discount to put on the rows, the part of it paid with points (no points are earned on
    it: ``Deal.points_paid_by_contacts``), and what the ledger posted for the contacts'
    payments. Runs before the deal itself is settled, under the deal's lock."""
    book, program, portal_id = scope.book, scope.program, scope.portal_id
    contacts = ordered(deal.contacts)
    order_split = split_total(program.split, contacts, basket(program, deal).order_amount)
    seen = dict(known)
    for c in contacts:
        spendable = await spendable_for_deal(
            conn, book, contact_reference(deal.id, c.id), customers[c.id], now
        )
        seen[c.id] = replace(seen.get(c.id, CustomerHistory()), available_points=spendable)
    offers = offers_for(program, deal, contacts, seen, order_split, now)
    total = points = 0
    posted: list[Posted] = []
    holds: list[HoldView] = []
    choices = await read_choices(conn, portal_id, deal.id)
    asked = dict(snap.elements)  # what each element asks once the tab's choices are in it
    for c in contacts:
        mine = [o for o in offers if o.contact_id == c.id]
        code = element_code(deal.id, c.id)
        element = snap.elements.get(code)
        latest = reconcile(layout, code, c.id, element, choices.get(c.id), now)
        if latest.row is not None:
            await store_choice(conn, portal_id, deal.id, latest.row)
        if latest.element is not None:
            asked[code] = latest.element
        chosen = applied_for(mine, latest.element, layout, order_split.get(c.id, 0), program.locale)
        ask = chosen.points_requested if chosen and deal.stage != "lost" else 0
        cap = min(
            seen[c.id].available_points,
            percent_of(
                order_split.get(c.id, 0),
                contact_share(program, deal, c, seen[c.id], now),
                rounding="down",
            ),
        )
        paid = await contact_payment(
            conn, scope, deal.id, deal.stage, c.id, customers[c.id], min(ask, cap), now
        )
        posted += paid.posted
        if paid.hold is not None:
            holds.append(paid.hold)
        taken = min(ask, cap)
        points += taken
        total += (chosen.discount if chosen and deal.stage != "lost" else 0) + taken
        params = element_write(
            layout,
            deal.id,
            c.id,
            contact_name(snap, c.id),
            element,
            offers_text(mine, program.locale),
            applied_text(chosen, taken, program.locale),
            program.locale,
            latest.inputs,
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
    await remember_inputs(conn, portal_id, deal.id, inputs_digest(layout, asked, deal.id))
    gone = set(previous.contact_ids if previous else []) - {c.id for c in contacts}
    for cid in sorted(gone):  # a contact taken off the deal pays nothing any more
        if cid not in customers:
            customers[cid] = await ensure_customer(conn, portal_id, f"contact:{cid}")
        paid = await contact_payment(conn, scope, deal.id, "lost", cid, customers[cid], None, now)
        posted += paid.posted
    return total, points, posted, holds


async def remember_inputs(conn: AsyncConnection, portal_id: int, deal_id: int, digest: str) -> None:
    """What the deal's elements asked for as it was settled (the poll compares with it)."""
    stmt = insert(b24_offer_inputs).values(portal_id=portal_id, deal_id=deal_id, digest=digest)
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["portal_id", "deal_id"],
            set_={"digest": stmt.excluded.digest, "seen_at": func.now()},
            where=b24_offer_inputs.c.digest != stmt.excluded.digest,
        )
    )


def contact_reference(deal_id: int, contact_id: int) -> str:
    return f"{deal_reference(deal_id)}:contact:{contact_id}"


async def contact_payment(
    conn: AsyncConnection,
    scope: Scope,
    deal_id: int,
    stage: StageSemantic,
    contact_id: int,
    customer_id: int,
    amount: int | None,
    now: datetime,
) -> Reconciled:
    """One contact's points paying for the deal: held while it is open, taken when it is won,
    given back when it is lost, deleted or the contact leaves it (``amount=None``)."""
    program = scope.program
    redemption = (
        Redemption(
            contact_id=contact_id,
            requested=amount,
            amount=amount,
            cap=amount,
            capped_by="none",
            rule_inputs={"deal_id": deal_id, "contact_id": contact_id},
            explanation_ru=say("ru", "reason.offers_pay", deal=deal_id),
            explanation_en=say("en", "reason.offers_pay", deal=deal_id),
        )
        if amount
        else None
    )
    return await reconcile_deal(
        conn,
        scope.book,
        reference=contact_reference(deal_id, contact_id),
        stage=stage if amount else "lost",
        effects=DealEffects(deal_id, program.hash, redemption=redemption),
        customers={contact_id: customer_id},
        now=now,
        hold_ttl=timedelta(hours=program.redemption.hold_ttl_hours),
        source=f"deal {deal_id}, contact {contact_id}",
    )
