"""What a deal shows the manager of the points (issue 15, item 6): the payer's balance and the
most the deal may pay, read from the ledger once the deal has settled; the values themselves
are planned in :func:`.plan.shown_on_deal` and written only where the deal shows otherwise."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.domain.deal import Deal
from kopilka.domain.split import ordered
from kopilka.ledger.queries import balances
from kopilka.ledger.types import Book
from kopilka.program.model import Program


def shows_points(program: Program) -> bool:
    """Whether the program maps any deal field Kopilka fills with points."""
    mapped = program.fields.deal
    return any((mapped.balance, mapped.max_payable, mapped.points_paid, mapped.points_earned))


def payer_of(deal: Deal) -> int | None:
    """The contact whose points pay for the deal (the engine's order), None without one."""
    return ordered(deal.contacts)[0].id if deal.contacts else None


async def payers_available(
    conn: AsyncConnection,
    book: Book,
    program: Program,
    deals: Mapping[int, tuple[Deal, Mapping[int, int]]],
    now: datetime,
) -> dict[int, int | None]:
    """deal id -> its payer's available points now (None: no payer, or nothing shows it), for
    many deals in one statement; ``deals`` maps each to (deal, contact id -> customer id)."""
    if not program.fields.deal.balance and not program.fields.deal.max_payable:
        return dict.fromkeys(deals)
    payers = {d: payer_of(deal) for d, (deal, _) in deals.items()}
    customer = {d: customers[payer] for d, (_, customers) in deals.items() if (payer := payers[d])}
    found = await balances(conn, book, sorted(set(customer.values())), now)
    return {d: found[customer[d]].available if d in customer else None for d in deals}
