"""Manual bonuses (R-11): a review or an apology bonus, within the program's limits.

The per-period limit counts, per customer and reason, what was granted (and not reversed) since
the period began. The customer's account row is locked first, so two managers granting at the
same moment cannot both slip under the limit.

The granting person's own limit (a :class:`~kopilka.domain.manual.Granter` the caller passes in:
the ledger knows no roles nor portals' users) counts, across customers and reasons, what that
person granted since the period began — the grants carrying their id in ``rule_inputs.granter``,
reversed ones excluded — under a transaction-level advisory lock on (portal, granter), taken
before the customer's account: two tabs of one manager cannot both slip under it either.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from kopilka.db.tables import accounts, ledger_entries, ledger_transactions
from kopilka.domain.errors import IdempotencyConflict
from kopilka.domain.manual import Granter, check_granter, check_manual_grant, period_start
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


_GRANTER = ledger_transactions.c.rule_inputs.op("->>")(literal_column("'granter'"))
#: advisory lock namespace: one manual grant at a time per (portal, granting person)
GRANTER_LOCK = 0x6B6F67


async def granted_by(conn: AsyncConnection, book: Book, granter: str, since: datetime) -> int:
    """What ``granter`` granted by hand in the portal since ``since``, reversed grants excluded."""
    reversal = aliased(ledger_transactions)
    tx = ledger_transactions.c
    total = await conn.scalar(
        select(func.coalesce(func.sum(ledger_entries.c.amount), 0))
        .select_from(ledger_transactions)
        .join(ledger_entries, ledger_entries.c.transaction_id == tx.id)
        .join(accounts, accounts.c.id == ledger_entries.c.account_id)
        .outerjoin(reversal, reversal.c.reverses_id == tx.id)
        .where(
            tx.portal_id == book.portal_id,
            tx.kind == "accrual",
            _GRANTER == granter,
            tx.rule_inputs.op("?")(literal_column("'granter'")),  # the index's predicate
            tx.effective_at >= since,
            accounts.c.kind == "customer",
            reversal.c.id.is_(None),
        )
    )
    return int(total or 0)


async def lock_granter(conn: AsyncConnection, book: Book, granter: str) -> None:
    await conn.execute(
        text("SELECT pg_advisory_xact_lock(:ns, hashtext(:who))"),
        {"ns": GRANTER_LOCK, "who": f"{book.portal_id}:{granter}"},
    )


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
    granter: Granter | None = None,
) -> Posted:
    """Post a manual bonus, or raise ``ManualGrantRefused`` (naming the limit) writing nothing.

    ``granter``: the person granting, recorded with the grant and held to their own limit."""
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
    if granter is not None:  # before the customer's account: always in this order
        await lock_granter(conn, book, granter.id)
    account = (await books.account(conn, book, "customer", customer_id, lock=True)).id
    already = 0
    since = None
    if bonus is not None and bonus.per_period is not None:
        since = period_start(bonus.per_period.period, now, program.tz)
        already = await granted_since(conn, book, account, rule_id, since)
    decision = check_manual_grant(program, reason, amount, already, now, comment=comment)
    inputs: dict[str, object] = {
        "reason": reason,
        "title": decision.title,
        "comment": comment,
        "granted_in_period_before": already,
        "period_start": since.isoformat() if since else None,
        "max_per_grant": bonus.max_per_grant if bonus else None,
    }
    if granter is not None:
        inputs |= await _granter_inputs(conn, book, program, granter, decision.amount, now)
    said = f"{decision.title}" + (f": {comment}" if comment else "")
    return await accrue(
        conn,
        book,
        customer_id=customer_id,
        amount=decision.amount,
        key=key,
        reason=said,
        actor=actor,
        now=now,
        source=source,
        rule_id=rule_id,
        rule_inputs=inputs,
        expires_at=decision.expires_at,
    )


async def _granter_inputs(
    conn: AsyncConnection,
    book: Book,
    program: Program,
    granter: Granter,
    amount: int,
    now: datetime,
) -> dict[str, object]:
    """Check the granter's own limit (their lock is held); what the grant's audit records."""
    limit = granter.limit
    if limit is None:
        return {"granter": granter.id, "granter_limit": None}
    since = period_start(limit.period, now, program.tz)
    before = await granted_by(conn, book, granter.id, since)
    check_granter(granter, before, amount)
    return {
        "granter": granter.id,
        "granter_limit": {
            "applied": limit.label,
            "max_total": limit.max_total,
            "period": limit.period.model_dump(exclude_none=True),
            "since": since.isoformat(),
            "granted_before": before,
        },
    }
