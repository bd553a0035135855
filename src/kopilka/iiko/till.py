"""What happened at the till, posted to the ledger once: the iiko transaction id is the key.

A spend at the till is a redemption; a sum coming back (a refund of a bonus payment, an accrual
made in iiko) is an accrual. A spend Kopilka cannot honour in full — the points were spent in
Bitrix24 a moment before the wallet was levelled — takes what is there, never more, and records
the shortfall, which the manager is told about on the contact's timeline (docs/iiko.md, "The
race window").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.api.portal import contact_id_of, customer_by_id
from kopilka.bitrix24.outbox import queue_write
from kopilka.iiko import queries
from kopilka.iiko.client import WalletTransaction
from kopilka.ledger import book as books
from kopilka.ledger.accrual import accrue
from kopilka.ledger.queries import balance
from kopilka.ledger.spending import redeem
from kopilka.ledger.types import Book

ACTOR = "iiko"


def key_of(link: queries.Link, transaction_id: str) -> str:
    return f"iiko:{link.organization_id}:{transaction_id}"


def _rub(minor: int) -> str:
    return f"{minor // 100}" if minor % 100 == 0 else f"{minor / 100:.2f}"


async def post_till_transaction(
    conn: AsyncConnection,
    book: Book,
    link: queries.Link,
    customer_id: int,
    tx: WalletTransaction,
    now: datetime,
) -> int:
    """Post one till transaction (a replay does nothing); the shortfall in kopecks."""
    if await queries.till_event_known(conn, link.id, tx.id):
        return 0
    order = f", заказ №{tx.order_number}" if tx.order_number else ""
    key = key_of(link, tx.id)
    common: dict[str, Any] = {"customer_id": customer_id, "key": key, "actor": ACTOR, "now": now}
    posted, shortfall = abs(tx.amount), 0
    if tx.amount < 0:
        await books.account(conn, book, "customer", customer_id, lock=True)  # spends queue here
        available = (await balance(conn, book, customer_id, now)).available
        posted = min(available, -tx.amount)
        shortfall = -tx.amount - posted
        if posted > 0:
            await redeem(
                conn,
                book,
                amount=posted,
                reason=f"Оплата баллами в ресторане{order}",
                source=f"iiko {tx.id}",
                **common,
            )
    else:
        await accrue(
            conn,
            book,
            amount=tx.amount,
            reason=f"Баллы возвращены в ресторане{order}",
            source=f"iiko {tx.id}",
            **common,
        )
    await queries.add_till_event(
        conn,
        link_id=link.id,
        transaction_id=tx.id,
        customer_id=customer_id,
        amount=tx.amount,
        posted=posted,
        shortfall=shortfall,
        status="short" if shortfall else "posted",
        order_number=tx.order_number,
        recorded_at=now,
    )
    if shortfall:
        await _report(conn, link, customer_id, tx, shortfall)
    return shortfall


async def _report(
    conn: AsyncConnection,
    link: queries.Link,
    customer_id: int,
    tx: WalletTransaction,
    shortfall: int,
) -> None:
    """Tell the manager on the contact's timeline (sent once: keyed by the transaction)."""
    customer = await customer_by_id(conn, link.portal_id, customer_id)
    contact = contact_id_of(customer.external_id)
    if contact is None:
        return  # not a Bitrix24 contact: the admin's iiko page lists it
    spent = _rub(-tx.amount)
    text = (
        f"В ресторане (iiko) оплачено {spent} баллами, но на счёте их уже не было: "
        f"не хватило {_rub(shortfall)} (баллы потрачены в Bitrix24 до того, как касса "
        f"узнала об этом). Списано сколько было, недостача не списана в минус."
    )
    await queue_write(
        conn,
        link.portal_id,
        key=f"iiko:short:{link.id}:{tx.id}",
        method="crm.timeline.comment.add",
        params={"fields": {"ENTITY_ID": contact, "ENTITY_TYPE": "contact", "COMMENT": text}},
        idempotent=False,
    )
