"""A deal as its «Бонусы» tab shows it (issue 17): each contact with the balance, the offers
(«не применяется» where the pipeline forbids them), the most it may pay on this deal — before the
manager types — what is asked, held and taken, and the points the deal earns.

Computed from what Kopilka recorded of the deal at its last sync (``b24_deals.engine_input``, the
deal as the engine saw it) and the ledger, as the sync computes them (``sync.contact_offers``):
no request to the portal, and the same numbers the sync will settle by."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24.connections import get_connection
from kopilka.bitrix24.deal_choices import Choice, read_choices
from kopilka.bitrix24.offers import Layout
from kopilka.bitrix24.sync.contact_offers import contact_reference
from kopilka.bitrix24.sync.seen import deal_histories
from kopilka.db.tables import b24_deals, customers
from kopilka.domain.campaigns import contact_share
from kopilka.domain.deal import CustomerHistory, Deal, StageSemantic
from kopilka.domain.deal_codec import decode
from kopilka.domain.effects import DiscountOffer
from kopilka.domain.eligibility import basket
from kopilka.domain.engine import evaluate_deal
from kopilka.domain.errors import KopilkaError
from kopilka.domain.money import percent_of
from kopilka.domain.offers import offers_for
from kopilka.domain.redemption import payable_cap
from kopilka.domain.split import ordered, split_total
from kopilka.ledger.deals import deal_reference, read_deal_ledgers, spendable_for_deal
from kopilka.ledger.queries import balances
from kopilka.ledger.types import Book
from kopilka.lifecycle.service import NoProgram, active_program
from kopilka.program.model import Program


class DealNotShown(KopilkaError):
    """The tab has nothing to show yet (no program, a deal Kopilka has not seen)."""

    code = "deal_not_shown"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # "no_program" | "unseen" | "deleted"


@dataclass(frozen=True, slots=True)
class ContactView:
    contact_id: int
    name: str
    available: int  # kopecks of points the contact may spend anywhere now
    offers: tuple[DiscountOffer, ...]  # the program's discounts for this contact on this deal
    points: DiscountOffer | None  # the points offer («не применяется» where forbidden)
    pays_by: str  # "contact": its own hold; "field": the deal's pay field; "": cannot pay here
    cap: int  # the most this contact may pay with points on this deal now
    choice: Choice | None  # what is asked for it now, by whom
    asking: int  # the points asked for it now (its own, or the deal's field for the payer)
    held: int  # points held for this deal now
    paid: int  # points taken by this deal (won)
    earns: int  # points the deal earns this contact: as it stands if open, posted if won


@dataclass(frozen=True, slots=True)
class DealView:
    deal_id: int
    stage: StageSemantic
    order_amount: int
    locale: str
    contacts: tuple[ContactView, ...]
    by_contact: bool  # the program has discounts: each contact pays and applies its own
    step: int = 1  # kopecks: points are asked in multiples of the program's step

    def contact(self, contact_id: int) -> ContactView | None:
        return next((c for c in self.contacts if c.contact_id == contact_id), None)


async def recorded_deal(conn: AsyncConnection, portal_id: int, deal_id: int) -> Deal:
    row = (
        await conn.execute(
            select(b24_deals.c.semantic, b24_deals.c.engine_input).where(
                b24_deals.c.portal_id == portal_id, b24_deals.c.deal_id == deal_id
            )
        )
    ).first()
    if row is None or row.engine_input is None:
        raise DealNotShown("unseen", "Kopilka has not seen this deal yet")
    if row.semantic == "D":
        raise DealNotShown("deleted", "the deal was deleted in the portal")
    return decode(dict(row.engine_input))


async def _customers(
    conn: AsyncConnection, portal_id: int, contact_ids: list[int]
) -> dict[int, tuple[int, str]]:
    """contact id -> (customer id, name) for those Kopilka knows."""
    external = {f"contact:{c}": c for c in contact_ids}
    rows = await conn.execute(
        select(customers.c.id, customers.c.external_id, customers.c.name).where(
            customers.c.portal_id == portal_id, customers.c.external_id.in_(list(external))
        )
    )
    return {external[r.external_id]: (int(r.id), str(r.name or "")) for r in rows}


async def deal_view(conn: AsyncConnection, portal_id: int, deal_id: int, now: datetime) -> DealView:
    try:
        book, program = await active_program(conn, portal_id, now)
    except NoProgram:
        raise DealNotShown("no_program", "the portal has no program yet") from None
    deal = await recorded_deal(conn, portal_id, deal_id)
    connection = await get_connection(conn, portal_id)
    by_contact = bool(program.discounts) and (
        Layout.from_json(connection.field_map.get("offers_list")) is not None
    )
    contacts = ordered(deal.contacts)
    known = await _customers(conn, portal_id, [c.id for c in contacts])
    histories = await deal_histories(conn, portal_id, program, deal, list(known), now)
    seen = dict(histories)
    for c in contacts:
        spendable = (
            await spendable_for_deal(
                conn, book, contact_reference(deal_id, c.id), known[c.id][0], now
            )
            if c.id in known
            else 0
        )
        seen[c.id] = replace(seen.get(c.id, CustomerHistory()), available_points=spendable)
    order_amount = basket(program, deal).order_amount
    order_split = split_total(program.split, contacts, order_amount)
    offers = offers_for(program, deal, contacts, seen, order_split, now)
    choices = await read_choices(conn, portal_id, deal_id)
    refs = [deal_reference(deal_id), *(contact_reference(deal_id, c.id) for c in contacts)]
    ledgers = await read_deal_ledgers(conn, book, refs)
    ids = [known[c.id][0] for c in contacts if c.id in known]
    now_balances = await balances(conn, book, ids, now)
    field_cap = await _field_cap(conn, book, program, deal, histories, known, now)
    earns = _will_earn(program, deal, histories, seen, now) if deal.stage == "process" else {}
    views = []
    for n, c in enumerate(contacts):
        customer = known.get(c.id, (0, ""))[0]
        own = ledgers[contact_reference(deal_id, c.id)]
        whole = ledgers[deal_reference(deal_id)]
        held = sum(
            s.active_hold.amount
            for s in (own, whole)
            if s.active_hold is not None and s.active_hold_customer == customer
        )
        paid = sum(x.amount for s in (own, whole) for x in s.captures if x.customer_id == customer)
        mine = [o for o in offers if o.contact_id == c.id]
        points = next((o for o in mine if o.discount_id == "points"), None)
        pays_by = _pays_by(program, by_contact, n, len(contacts))
        if pays_by == "field":
            cap = field_cap
        elif pays_by == "contact" and points is not None and points.applicable:
            cap = min(
                seen[c.id].available_points,
                percent_of(
                    order_split.get(c.id, 0),
                    contact_share(program, deal, c, seen[c.id], now),
                    rounding="down",
                ),
            )
        else:
            cap = 0
        earned = sum(a.amount for a in whole.accruals if a.customer_id == customer)
        views.append(
            ContactView(
                contact_id=c.id,
                name=known.get(c.id, (0, ""))[1],
                available=now_balances[customer].available if customer in now_balances else 0,
                offers=tuple(o for o in mine if o.discount_id != "points"),
                points=points,
                pays_by=pays_by,
                cap=cap if deal.stage == "process" else 0,
                choice=_local(choices.get(c.id), program),
                asking=_asking(pays_by, deal, choices.get(c.id)),
                held=held,
                paid=paid,
                earns=earns.get(c.id, 0) if deal.stage == "process" else earned,
            )
        )
    return DealView(
        deal_id,
        deal.stage,
        order_amount,
        program.locale,
        tuple(views),
        by_contact,
        program.points.step_minor,
    )


def _local(choice: Choice | None, program: Program) -> Choice | None:
    """The choice with its time in the program's time zone (as the manager reads it)."""
    return replace(choice, set_at=choice.set_at.astimezone(program.tz)) if choice else None


def _asking(pays_by: str, deal: Deal, choice: Choice | None) -> int:
    if pays_by == "field":
        return max(deal.points_to_pay, 0)
    return choice.points if choice is not None and pays_by else 0


def _pays_by(program: Program, by_contact: bool, position: int, count: int) -> str:
    """How a contact's points pay: the deal's own field for its payer (a one-contact deal, or a
    program without per-contact offers) — so the field and the tab are one input — or the
    contact's own payment (R-13)."""
    field = program.fields.deal.pay_with_points
    if field and position == 0 and (count == 1 or not by_contact):
        return "field"
    return "contact" if by_contact else ""


async def _field_cap(
    conn: AsyncConnection,
    book: Book,
    program: Program,
    deal: Deal,
    histories: dict[int, CustomerHistory],
    known: dict[int, tuple[int, str]],
    now: datetime,
) -> int:
    """The most the deal's own field may ask (the payer's level share, its spendable points)."""
    if not deal.contacts or deal.stage != "process":
        return 0
    payer = ordered(deal.contacts)[0]
    if payer.id not in known:
        return 0
    spendable = await spendable_for_deal(
        conn, book, deal_reference(deal.id), known[payer.id][0], now
    )
    effects = evaluate_deal(program, deal, histories, now)
    level = effects.levels.get(payer.id)
    share = effects.payable_share  # a campaign's, over the level's (as the engine pays)
    if share is None:
        share = level.payable_share if level else None
    return payable_cap(program, deal, basket(program, deal).order_amount, share, spendable)


def _will_earn(
    program: Program,
    deal: Deal,
    histories: dict[int, CustomerHistory],
    seen: dict[int, CustomerHistory],
    now: datetime,
) -> dict[int, int]:
    """What each contact would earn if the deal were won now, as it stands (what it pays with
    points as recorded at its last sync)."""
    won = replace(deal, stage="won", closed_at=now)
    effects = evaluate_deal(program, won, {**histories, **seen}, now)
    earned: dict[int, int] = {}
    for accrual in effects.accruals:
        earned[accrual.contact_id] = earned.get(accrual.contact_id, 0) + accrual.amount
    return earned
