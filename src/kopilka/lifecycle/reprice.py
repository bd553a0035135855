"""``kopilka program reprice``: a deliberate re-pricing of won deals under the version in force.

The what-if of those deals (:mod:`.whatif`) says what each should hold; the ledger's own deal
reconciliation (``plan_deal`` / ``execute_plan``) posts only the difference — the old accrual
reversed, the new one accrued — keyed by deal and version (``deal:7:reprice:<hash>:…``), so a
second run finds nothing to do. The deal's ``priced_by`` becomes the version in force and its
shares follow the version's split. A reversal never overdraws: where the customer already spent
points it would take back, the deal is left exactly as it was and the shortfall reported.

The portal's sync is held off meanwhile (its advisory lock), so that no settle of an old
snapshot undoes a re-priced deal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.bitrix24.sync.drain import SYNC_LOCK
from kopilka.bitrix24.writeback import refresh_contacts
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import b24_deal_shares, b24_deals
from kopilka.domain.errors import InsufficientPoints
from kopilka.ledger.book import ensure_customer
from kopilka.ledger.deals import (
    deal_reference,
    execute_plan,
    lock_reference,
    plan_deal,
    within_budgets,
)
from kopilka.ledger.deals.plan import Common
from kopilka.ledger.deals.state import read_deal_ledger
from kopilka.ledger.queries import balance
from kopilka.ledger.types import Book
from kopilka.lifecycle.replay import Replayed, shares_of
from kopilka.lifecycle.service import active_program
from kopilka.lifecycle.whatif import Outcome, what_if
from kopilka.program.model import Program

BATCH = 100  # deals per transaction (each in a savepoint of its own)


@dataclass(frozen=True, slots=True)
class Shortfall:
    """A deal left as it was: taking back ``needed`` of a contact's points would overdraw."""

    deal_id: int
    contact_id: int
    needed: int
    has: int

    @property
    def short(self) -> int:
        return max(self.needed - self.has, 0)


@dataclass(slots=True)
class Repriced:
    version: str
    repriced: list[int] = field(default_factory=list)  # deals whose entries changed
    posted: int = 0
    shortfalls: list[Shortfall] = field(default_factory=list)
    not_replayable: int = 0


async def preview(
    conn: AsyncConnection, portal_id: int, since: datetime, now: datetime
) -> tuple[Book, Program, Outcome]:
    """The what-if of the deals won since ``since`` under the version in force."""
    book, program = await active_program(conn, portal_id, now)
    return book, program, await what_if(conn, book, program, program, since=since, now=now)


async def reprice(
    engine: AsyncEngine, portal_id: int, *, since: datetime, now: datetime, actor: str
) -> Repriced:
    async with engine.connect() as lock:
        await lock.execute(
            text("SELECT pg_advisory_lock(:ns, :p)"), {"ns": SYNC_LOCK, "p": portal_id}
        )
        await lock.commit()
        try:
            return await _reprice(engine, portal_id, since, now, actor)
        finally:
            await lock.execute(
                text("SELECT pg_advisory_unlock(:ns, :p)"), {"ns": SYNC_LOCK, "p": portal_id}
            )
            await lock.commit()


async def _reprice(
    engine: AsyncEngine, portal_id: int, since: datetime, now: datetime, actor: str
) -> Repriced:
    async with engine.connect() as conn:
        book, program, outcome = await preview(conn, portal_id, since, now)
    done = Repriced(program.hash, not_replayable=outcome.report.not_replayable)
    todo = [r for r in outcome.replayed if r.deal.id in outcome.scope]
    source = f"reprice since {since:%Y-%m-%d}"
    for at in range(0, len(todo), BATCH):
        part = todo[at : at + BATCH]

        async def unit(conn: AsyncConnection, part: Sequence[Replayed] = part) -> Repriced:
            out = Repriced(program.hash)
            touched: set[int] = set()
            for item in part:
                try:
                    async with conn.begin_nested():
                        posted = await _one(conn, book, program, item, now, actor, source, out)
                except InsufficientPoints:
                    continue  # the savepoint is rolled back: the deal is as it was
                if posted:
                    out.repriced.append(item.deal.id)
                    out.posted += posted
                    touched |= {c.id for c in item.deal.contacts}
            await refresh_contacts(conn, book, program, portal_id, sorted(touched), now)
            return out

        part_done = await run_in_transaction(engine, unit)
        done.repriced += part_done.repriced
        done.posted += part_done.posted
        done.shortfalls += part_done.shortfalls
    return done


async def _one(
    conn: AsyncConnection,
    book: Book,
    program: Program,
    item: Replayed,
    now: datetime,
    actor: str,
    source: str,
    out: Repriced,
) -> int:
    """One deal: the difference posted, ``priced_by`` and the shares brought to the version;
    nothing at all (a shortfall noted, :class:`InsufficientPoints` raised) when a reversal
    would take back points the customer no longer has."""
    deal = item.deal
    reference = deal_reference(deal.id)
    customers = {
        c.id: await ensure_customer(conn, book.portal_id, f"contact:{c.id}") for c in deal.contacts
    }
    await lock_reference(conn, book, reference)
    state = await read_deal_ledger(conn, book, reference)
    effects = await within_budgets(conn, book, program, reference, item.effects)
    plan = plan_deal(state, reference=reference, stage="won", effects=effects, customers=customers)
    plan.key_base = f"{reference}:reprice:{program.hash[:16]}"
    needed: dict[int, int] = defaultdict(int)
    undone = {tx for tx, _why in plan.undo}
    for acc in state.accruals:
        if acc.transaction_id in undone:
            needed[acc.customer_id] += acc.amount
    contact_of = {customer: contact for contact, customer in customers.items()}
    has = {c: (await balance(conn, book, c, now)).total for c in needed}
    owed = [Shortfall(deal.id, contact_of.get(c, 0), a, has[c]) for c, a in needed.items()]
    if any(s.short for s in owed):
        out.shortfalls += [s for s in owed if s.short]
        raise InsufficientPoints(f"deal {deal.id}: a reversal would overdraw")
    try:
        result = await execute_plan(
            conn,
            book,
            plan,
            Common(actor, now, source),
            timedelta(hours=program.redemption.hold_ttl_hours),
        )
    except InsufficientPoints:  # points held or not yet available: refused all the same
        if not owed and plan.pay is not None:  # the payment the version asks cannot be taken
            payer, amount, _want = plan.pay
            left = (await balance(conn, book, payer, now)).available
            owed = [Shortfall(deal.id, contact_of.get(payer, 0), amount, left)]
        out.shortfalls += owed
        raise
    await conn.execute(
        update(b24_deals)
        .where(b24_deals.c.portal_id == book.portal_id, b24_deals.c.deal_id == deal.id)
        .values(priced_by=program.hash)
    )
    await conn.execute(
        delete(b24_deal_shares).where(
            b24_deal_shares.c.portal_id == book.portal_id, b24_deal_shares.c.deal_id == deal.id
        )
    )
    rows = [
        {
            "portal_id": book.portal_id,
            "deal_id": deal.id,
            "contact_id": contact,
            "category_id": category,
            "closed_at": deal.closed_at,
            "amount": amount,
        }
        for contact, category, amount in shares_of(program, deal)
    ]
    if rows:
        await conn.execute(insert(b24_deal_shares).values(rows))
    return len(result.posted)
