"""The history as a customer reads it: each line worded from the ledger entry's structure —
its kind, sign, reference (``deal:7001``, ``pos:A-17``) and the order's date — never from the
reason the ledger keeps for managers («сделка №7001»), which speaks CRM."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.db.tables import holds, ledger_transactions
from kopilka.ledger.queries import HistoryLine
from kopilka.program.model import Program

TEXTS: dict[str, dict[str, str]] = {
    "earned_order": {"ru": "Начислено за заказ от {date}", "en": "Earned on the order of {date}"},
    "earned": {"ru": "Начислено", "en": "Points earned"},
    "bonus": {"ru": "Бонус: {title}", "en": "Bonus: {title}"},
    "cancelled_order": {
        "ru": "Начисление отменено: заказ от {date} отменён",
        "en": "Points cancelled: the order of {date} was cancelled",
    },
    "cancelled": {
        "ru": "Начисление отменено: заказ отменён",
        "en": "Points cancelled: the order was cancelled",
    },
    "returned_order": {
        "ru": "Возвращено: оплата заказа от {date} отменена",
        "en": "Returned: the payment for the order of {date} was cancelled",
    },
    "returned": {"ru": "Возвращено на счёт", "en": "Returned to your account"},
    "paid_order": {"ru": "Оплата заказа от {date}", "en": "Paid for the order of {date}"},
    "paid": {"ru": "Оплата покупки", "en": "Paid for a purchase"},
    "reserved_order": {
        "ru": "Зарезервировано для оплаты заказа от {date}",
        "en": "Reserved to pay for the order of {date}",
    },
    "reserved": {"ru": "Зарезервировано для оплаты", "en": "Reserved for a payment"},
    "released": {"ru": "Резерв снят", "en": "Reservation released"},
    "expired": {"ru": "Сгорели: истёк срок действия", "en": "Expired"},
}


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    amount: int  # the change of the customer's own balance, kopecks of points
    at: datetime


def say(lang: str, key: str, **values: str) -> str:
    entry = TEXTS[key]
    return entry.get(lang, entry["ru"]).format(**values)


@dataclass(frozen=True, slots=True)
class Hold:
    """What a hold line's transaction reserved for (``holds``: the order's reference) and how
    it ended: a captured hold was the payment."""

    reference: str
    status: str


async def holds_of(conn: AsyncConnection, lines: Sequence[HistoryLine]) -> dict[int, Hold]:
    """transaction id → its hold, for the history's hold lines."""
    ids = [h.transaction_id for h in lines if h.kind == "hold"]
    if not ids:
        return {}
    rows = await conn.execute(
        select(ledger_transactions.c.id, holds.c.reference, holds.c.status)
        .join(holds, holds.c.id == ledger_transactions.c.hold_id)
        .where(ledger_transactions.c.id.in_(ids))
    )
    return {int(r.id): Hold(r.reference, str(r.status)) for r in rows}


def word(
    line: HistoryLine,
    lang: str,
    program: Program,
    order_dates: Mapping[str, str],
    hold: Hold | None = None,
) -> str:
    """The customer's words for one ledger line; ``order_dates``: reference → «12.03.2026»."""
    date = order_dates.get((hold.reference if hold else line.reference) or "")

    def by_order(key: str, plain: str) -> str:
        return say(lang, key, date=date) if date else say(lang, plain)

    if line.kind == "accrual":
        bonus = program.manual_bonuses.get(line.rule_id or "")
        if bonus is not None and not line.reference:
            return say(lang, "bonus", title=bonus.title)
        return by_order("earned_order", "earned")
    if line.kind == "reversal":
        if line.amount < 0:
            return by_order("cancelled_order", "cancelled")
        return by_order("returned_order", "returned")
    if line.kind in ("redemption", "capture"):
        return by_order("paid_order", "paid")
    if line.kind == "hold":
        if hold is not None and hold.status == "captured":
            return by_order("paid_order", "paid")
        return by_order("reserved_order", "reserved")
    if line.kind == "release":
        return say(lang, "released")
    if line.kind == "expiry":
        return say(lang, "expired")
    return say(lang, "earned" if line.amount > 0 else "paid")


def lines(
    history: Sequence[HistoryLine],
    lang: str,
    program: Program,
    order_dates: Mapping[str, str],
    holds: Mapping[int, Hold] | None = None,
) -> list[Line]:
    """The lines that changed the customer's balance, worded for the customer."""
    held = holds or {}
    return [
        Line(
            word(h, lang, program, order_dates, held.get(h.transaction_id)),
            h.amount,
            h.effective_at,
        )
        for h in history
        if h.amount != 0
    ]
