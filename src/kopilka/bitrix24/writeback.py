"""What Kopilka shows inside the portal: the contact's fields and the deal's timeline.

Both are queued in the outbox inside the ledger transaction. Contact fields are recomputed from
the ledger and the deal snapshots every time (never incremented), so a repeated or late write
can only ever set the right value.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24 import outbox
from kopilka.db.tables import b24_deals
from kopilka.domain.effects import DealEffects
from kopilka.domain.explain import points_ru
from kopilka.ledger.queries import balance
from kopilka.ledger.types import Book, HoldView, Posted
from kopilka.program.model import Program

KIND_TITLES = {
    "accrual": "Начислено",
    "reversal": "Отменено",
    "hold": "Зарезервировано для оплаты",
    "capture": "Списано в оплату",
    "release": "Резерв снят",
}


def points_value(minor: int) -> str:
    """Points as a user field takes them: "1000" or "10.50"."""
    whole, frac = divmod(minor, 100)
    return f"{whole}" if not frac else f"{whole}.{frac:02d}"


def _percent(effects: DealEffects | None, contact_id: int) -> str | None:
    if effects is None:
        return None
    level = effects.levels.get(contact_id)
    if level is not None:
        return _plain(level.percent)
    for accrual in effects.accruals:
        if accrual.contact_id == contact_id and accrual.rule_inputs.get("percent"):
            return str(accrual.rule_inputs["percent"])
    return None


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


async def won_deals(conn: AsyncConnection, portal_id: int, contact_id: int) -> int:
    return int(
        await conn.scalar(
            select(func.count())
            .select_from(b24_deals)
            .where(
                b24_deals.c.portal_id == portal_id,
                b24_deals.c.semantic == "S",
                b24_deals.c.contact_ids.contains([contact_id]),
            )
        )
        or 0
    )


async def contact_fields_write(
    conn: AsyncConnection,
    book: Book,
    program: Program,
    portal_id: int,
    customers: Mapping[int, int],
    effects: DealEffects | None,
    now: datetime,
) -> None:
    mapped = program.fields.contact
    for contact_id, customer_id in customers.items():
        fields: dict[str, Any] = {}
        if mapped.balance:
            fields[mapped.balance] = points_value(
                (await balance(conn, book, customer_id, now)).available
            )
        if mapped.won_deals:
            fields[mapped.won_deals] = str(await won_deals(conn, portal_id, contact_id))
        if mapped.percent and (percent := _percent(effects, contact_id)) is not None:
            fields[mapped.percent] = percent
        if mapped.level and effects is not None and (lvl := effects.levels.get(contact_id)):
            fields[mapped.level] = lvl.title or ""
        if fields:
            await outbox.queue_write(
                conn,
                portal_id,
                key=f"contact:{contact_id}:fields",
                method="crm.contact.update",
                params={"id": contact_id, "fields": fields},
                idempotent=True,
            )


def comment_text(tx: Posted) -> str:
    """«Копилка: +992 бонуса: 8 % (опт) от 12 400 ₽» — the posting's own explanation."""
    mark = f" · запись №{tx.id}"  # unique: lets an unanswered write be checked on the portal
    if tx.kind == "accrual":
        return f"Копилка: {tx.reason}{mark}"
    amount = sum(leg.amount for leg in tx.legs if leg.amount > 0)  # legs split by lot
    title = KIND_TITLES.get(tx.kind, tx.kind)
    return f"Копилка: {title} {points_ru(amount)}" + (f" — {tx.reason}" if tx.reason else "") + mark


async def timeline_comment(conn: AsyncConnection, portal_id: int, deal_id: int, tx: Posted) -> None:
    if tx.replayed:
        return
    await outbox.queue_write(
        conn,
        portal_id,
        key=f"comment:tx:{tx.id}",
        method="crm.timeline.comment.add",
        params={
            "fields": {"ENTITY_ID": deal_id, "ENTITY_TYPE": "deal", "COMMENT": comment_text(tx)}
        },
        idempotent=False,
    )


async def hold_comment(conn: AsyncConnection, portal_id: int, deal_id: int, hold: HoldView) -> None:
    if hold.replayed:
        return
    text = f"Копилка: {KIND_TITLES['hold']} {points_ru(hold.amount)}"
    mark = f" · резерв №{hold.id}"
    await outbox.queue_write(
        conn,
        portal_id,
        key=f"comment:hold:{hold.id}",
        method="crm.timeline.comment.add",
        params={
            "fields": {
                "ENTITY_ID": deal_id,
                "ENTITY_TYPE": "deal",
                "COMMENT": (f"{text} — {hold.reason}" if hold.reason else text) + mark,
            }
        },
        idempotent=False,
    )
