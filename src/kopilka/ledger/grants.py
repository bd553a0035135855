"""Manual bonuses (R-11): a review or an apology bonus, within the program's limits.

The per-period limit counts, per customer and reason, what was granted (and not reversed) since
the period began. The customer's account row is locked first, so two managers granting at the
same moment cannot both slip under the limit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from kopilka.db.tables import ledger_entries, ledger_transactions
from kopilka.domain.errors import IdempotencyConflict
from kopilka.domain.manual import check_manual_grant, period_start
from kopilka.ledger import book as books
from kopilka.ledger.accrual import accrue
from kopilka.ledger.posting import posted_by_key
from kopilka.ledger.types import Book, Posted
from kopilka.program.model import Program


def rule_id_for(reason: str) -> str:
    return f"manual:{reason}"


async def granted_since(
    conn: AsyncConnection, book: Book, customer_account: int, rule_id: str, since: datetime
) -> int:
    reversal = aliased(ledger_transactions)
    total = await conn.scalar(
        select(func.coalesce(func.sum(ledger_entries.c.amount), 0))
        .select_from(ledger_transactions)
        .join(ledger_entries, ledger_entries.c.transaction_id == ledger_transactions.c.id)
        .outerjoin(reversal, reversal.c.reverses_id == ledger_transactions.c.id)
        .where(
            ledger_transactions.c.program_id == book.program_id,
            ledger_transactions.c.kind == "accrual",
            ledger_transactions.c.rule_id == rule_id,
            ledger_transactions.c.effective_at >= since,
            ledger_entries.c.account_id == customer_account,
            reversal.c.id.is_(None),
        )
    )
    return int(total or 0)


async def grant(
    conn: AsyncConnection,
    book: Book,
    program: Program,
    *,
    customer_id: int,
    reason: str,
    amount: int | None,
    actor: str,
    key: str,
    now: datetime,
    comment: str | None = None,
    source: str = "",
) -> Posted:
    """Post a manual bonus, or raise ``ManualGrantRefused`` (naming the limit) writing nothing."""
    rule_id = rule_id_for(reason)
    earlier = await posted_by_key(conn, book, key)
    if earlier is not None:
        # A replay: the limits were checked when it was first posted (and now count it).
        earned = sum(leg.amount for leg in earlier.legs if leg.account_kind == "customer")
        if earlier.rule_id != rule_id or amount not in (None, earned):
            raise IdempotencyConflict(
                f"idempotency key {key!r} was already used for a different request"
            )
        return earlier
    bonus = program.manual_bonuses.get(reason)
    account = (await books.account(conn, book, "customer", customer_id, lock=True)).id
    already = 0
    since = None
    if bonus is not None and bonus.per_period is not None:
        since = period_start(bonus.per_period.period, now, program.tz)
        already = await granted_since(conn, book, account, rule_id, since)
    decision = check_manual_grant(program, reason, amount, already, now, comment=comment)
    inputs = {
        "reason": reason,
        "title": decision.title,
        "comment": comment,
        "granted_in_period_before": already,
        "period_start": since.isoformat() if since else None,
        "max_per_grant": bonus.max_per_grant if bonus else None,
    }
    text = f"{decision.title}" + (f": {comment}" if comment else "")
    return await accrue(
        conn,
        book,
        customer_id=customer_id,
        amount=decision.amount,
        key=key,
        reason=text,
        actor=actor,
        now=now,
        source=source,
        rule_id=rule_id,
        rule_inputs=inputs,
        expires_at=decision.expires_at,
    )
