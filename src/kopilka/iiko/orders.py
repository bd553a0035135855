"""Closed iiko orders with a guest become Bitrix24 deals, once: the contact found by phone
(``crm.duplicate.findbycomm``) or created, the deal added at the link's pipeline and stage
(won by default) with the order's items as product rows, so the program's deal rules, totals
and the cabinet's history cover the restaurant too.

Once per order: the mapping (``iiko_orders``) is the first guard; the deal's ``ORIGIN_ID``
(``iiko:<order id>``, ``ORIGINATOR_ID`` ``iiko``) is the second, searched before adding, so a
deal made by a run that died before recording it is found, not made again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.bitrix24.client import Bitrix24Client
from kopilka.db.engine import run_in_transaction
from kopilka.iiko import queries
from kopilka.iiko.client import ClosedOrder, IikoClient, closed_orders
from kopilka.phones import InvalidPhone, normalize_phone

ORIGINATOR = "iiko"


def origin_of(order: ClosedOrder) -> str:
    return f"iiko:{order.id}"


async def contact_for(b24: Bitrix24Client, phone: str, name: str) -> int:
    found = await b24.call(
        "crm.duplicate.findbycomm", {"type": "PHONE", "values": [phone], "entity_type": "CONTACT"}
    )
    ids = (
        sorted(int(i) for i in (found or {}).get("CONTACT", [])) if isinstance(found, dict) else []
    )
    if ids:
        return ids[0]
    fields = {"NAME": name or phone, "PHONE": [{"VALUE": phone, "VALUE_TYPE": "MOBILE"}]}
    return int(await b24.call("crm.contact.add", {"fields": fields}, write=True))


def _stage(category: int, stage: str) -> str:
    return stage if category == 0 or ":" in stage else f"C{category}:{stage}"


async def deal_for(
    b24: Bitrix24Client, order: ClosedOrder, contact: int, category: int, stage: str
) -> int:
    origin = origin_of(order)
    found = await b24.call(
        "crm.deal.list",
        {
            "filter": {"ORIGINATOR_ID": ORIGINATOR, "ORIGIN_ID": origin},
            "select": ["ID", "ORIGIN_ID"],
        },
    )
    ours = [d for d in found or [] if str(d.get("ORIGIN_ID")) == origin]
    if ours:
        return int(ours[0]["ID"])
    fields: dict[str, Any] = {
        "TITLE": f"Ресторан: заказ №{order.number}" if order.number else "Ресторан: заказ",
        "CATEGORY_ID": category,
        "STAGE_ID": _stage(category, "NEW"),  # won once its rows are there (below)
        "CONTACT_ID": contact,
        "OPPORTUNITY": f"{order.total / 100:.2f}",
        "ORIGINATOR_ID": ORIGINATOR,
        "ORIGIN_ID": origin_of(order),
    }
    deal = int(await b24.call("crm.deal.add", {"fields": fields}, write=True))
    return deal


async def push_orders(
    engine: AsyncEngine, client: IikoClient, b24: Bitrix24Client, link: queries.Link
) -> int:
    """Make deals of the orders closed since the stored revision; the number made."""

    async def where(conn: AsyncConnection) -> tuple[int, tuple[int, str]]:
        return (
            await queries.orders_revision(conn, link.id),
            await queries.deal_settings(conn, link.id),
        )

    revision, (category, stage) = await run_in_transaction(engine, where)
    orders, top = await closed_orders(client, revision)
    made = 0
    for order in orders:
        try:
            phone = normalize_phone(order.phone or "")
        except InvalidPhone:
            continue  # no guest on the order: not a customer's

        async def known(conn: AsyncConnection, order_id: str = order.id) -> int | None:
            return await queries.deal_of_order(conn, link.id, order_id)

        if await run_in_transaction(engine, known) is not None:
            continue
        contact = await contact_for(b24, phone, order.name)
        deal = await deal_for(b24, order, contact, category, stage)
        rows = [
            {
                "PRODUCT_NAME": line.name,
                "PRICE": f"{line.price / 100:.2f}",
                "QUANTITY": line.quantity,
            }
            for line in order.lines
        ]
        await b24.call("crm.deal.productrows.set", {"id": deal, "rows": rows}, write=True)
        won = {"STAGE_ID": _stage(category, stage)}
        await b24.call("crm.deal.update", {"id": deal, "fields": won}, write=True)

        async def record(
            conn: AsyncConnection, order: ClosedOrder = order, deal: int = deal, who: int = contact
        ) -> None:
            await queries.add_order(
                conn,
                link_id=link.id,
                order_id=order.id,
                deal_id=deal,
                contact_id=who,
                total=order.total,
            )

        await run_in_transaction(engine, record)
        made += 1

    async def advance(conn: AsyncConnection) -> None:
        await queries.set_orders_revision(conn, link.id, top)

    await run_in_transaction(engine, advance)
    return made
