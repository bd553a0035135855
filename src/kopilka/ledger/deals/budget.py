"""A campaign's budget, enforced where a deal's accruals are posted: under a lock per campaign,
the points its lines already gave elsewhere in the portal are summed, and this deal's lines get
what is left (``domain.campaigns.fit_budgets``: what fits, or nothing)."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from kopilka.db.tables import accounts, ledger_entries, ledger_transactions
from kopilka.domain.campaigns import fit_budgets
from kopilka.domain.effects import DealEffects
from kopilka.ledger.deals.state import lock_references
from kopilka.ledger.types import Book
from kopilka.program.model import Program


def budgeted(program: Program, effects: DealEffects) -> set[str]:
    """The rule ids of the budgeted campaign windows ``effects`` would give points by."""
    capped = {c.id for c in program.campaigns if c.budget is not None}
    return {
        a.rule_id
        for a in effects.accruals
        if a.rule_id.startswith("campaign:") and a.rule_inputs.get("campaign") in capped
    }


async def within_budgets(
    conn: AsyncConnection, book: Book, program: Program, reference: str, effects: DealEffects
) -> DealEffects:
    """``effects`` with its budgeted campaign lines cut to what the budgets have left. Takes the
    campaigns' locks (after the deal's: every caller locks the deal first), held until the
    transaction ends, so two deals never both take the last points."""
    rule_ids = budgeted(program, effects)
    if not rule_ids:
        return effects
    await lock_references(conn, book, sorted(rule_ids))
    spent = await spent_elsewhere(conn, book, reference, rule_ids)
    fitted, _ = fit_budgets(program, effects.accruals, spent)
    return replace(effects, accruals=tuple(fitted))


async def spent_elsewhere(
    conn: AsyncConnection, book: Book, reference: str, rule_ids: set[str]
) -> dict[str, int]:
    """Rule id (a campaign's window) -> the points its live accruals gave, on every deal but
    ``reference``."""
    tx = ledger_transactions
    reversal = aliased(ledger_transactions)
    rows = await conn.execute(
        select(tx.c.rule_id, func.sum(ledger_entries.c.amount))
        .join(ledger_entries, ledger_entries.c.transaction_id == tx.c.id)
        .join(accounts, accounts.c.id == ledger_entries.c.account_id)
        .outerjoin(reversal, reversal.c.reverses_id == tx.c.id)
        .where(
            tx.c.portal_id == book.portal_id,
            tx.c.program_id == book.program_id,
            tx.c.kind == "accrual",
            tx.c.rule_id.in_(sorted(rule_ids)),
            tx.c.reference != reference,
            accounts.c.kind == "customer",
            reversal.c.id.is_(None),
        )
        .group_by(tx.c.rule_id)
    )
    return {str(rule_id): int(total or 0) for rule_id, total in rows}
