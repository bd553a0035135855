"""A restaurant on iiko, end to end: a deal won in Bitrix24 shows on the iikoCard wallet; the
till's spend reaches the ledger and the contact's balance field; a refund at the till returns
the points (iikoCloud is the local fake, Bitrix24 the emulator, the worker runs)."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.bitrix24.connections import portal_program
from kopilka.cards.service import issue_card
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import cards
from kopilka.fakes.iiko import IikoFake
from kopilka.iiko.client import IikoClient
from kopilka.iiko.service import connect, sync_link
from kopilka.ledger.book import get_customer_id
from kopilka.ledger.queries import history
from tests.b24harness import kopilka_on_emulator

PHONE = "+79161112233"
BALANCE = "UF_CRM_KOP_BALANCE"


async def test_deal_won_till_spends_and_refunds(committed_engine: AsyncEngine) -> None:
    async with kopilka_on_emulator(committed_engine) as h, httpx.AsyncClient() as http:
        contact = int(
            h.call(
                "crm.contact.add",
                {"fields": {"NAME": "Анна", "PHONE": [{"VALUE": PHONE, "VALUE_TYPE": "MOBILE"}]}},
            )
        )
        h.move(h.add_deal(contact, "10000"), "WON")
        await h.settle()
        earned = (await h.balance(contact)).available
        assert earned > 0
        portal_id = h.connection.portal_id

        async def card(conn: AsyncConnection) -> int:  # the card number is the phone
            customer = await get_customer_id(conn, portal_id, f"contact:{contact}")
            has = await conn.scalar(select(cards.c.number).where(cards.c.customer_id == customer))
            if has is None:
                _book, program = await portal_program(conn, h.connection)
                await issue_card(
                    conn,
                    portal_id,
                    program,
                    h.contact(contact),
                    issued_by="test",
                    check_required=False,
                )
            return customer

        customer = await run_in_transaction(h.engine, card)

        with IikoFake(api_login="key") as fake:
            client = IikoClient(http, fake.url, "key", fake.organization_id)

            async def link_it(conn: AsyncConnection):  # type: ignore[no-untyped-def]
                return await connect(conn, client, portal_id, base_url=fake.url, api_login="key")

            link = await run_in_transaction(h.engine, link_it)

            async def sync() -> None:
                report = await sync_link(h.engine, client, link, h.services.now, grace=timedelta(0))
                assert report.error is None

            await sync()
            guest = fake.guest_by_phone(PHONE)
            assert guest is not None
            assert int(guest.balance * 100) == earned  # the wallet shows the deal's points

            fake.till_spend(PHONE, 300, order="7")
            await sync()
            await h.settle()
            assert (await h.balance(contact)).available == earned - 300_00
            assert str(h.contact(contact)[BALANCE]) == str((earned - 300_00) // 100)
            assert int(guest.balance * 100) == earned - 300_00

            async def lines(conn: AsyncConnection) -> list[str]:
                _book, _ = await portal_program(conn, h.connection)
                found = await history(conn, _book, customer)
                return [line.reason for line in found]

            reasons = await run_in_transaction(h.engine, lines)
            assert any("в ресторане, заказ №7" in r for r in reasons)  # what the cabinet lists

            fake.till_refund(PHONE, 300, order="7")
            await sync()
            await h.settle()
            assert (await h.balance(contact)).available == earned
            assert str(h.contact(contact)[BALANCE]) == str(earned // 100)
            assert int(guest.balance * 100) == earned


async def test_closed_orders_become_deals_once(committed_engine: AsyncEngine) -> None:
    async with kopilka_on_emulator(committed_engine) as h, httpx.AsyncClient() as http:
        anna = int(
            h.call(
                "crm.contact.add",
                {"fields": {"NAME": "Анна", "PHONE": [{"VALUE": PHONE, "VALUE_TYPE": "MOBILE"}]}},
            )
        )
        portal_id = h.connection.portal_id
        b24 = h.services.client_for(h.connection)
        with IikoFake(api_login="key") as fake:
            client = IikoClient(http, fake.url, "key", fake.organization_id)

            async def link_it(conn: AsyncConnection):  # type: ignore[no-untyped-def]
                return await connect(conn, client, portal_id, base_url=fake.url, api_login="key")

            link = await run_in_transaction(h.engine, link_it)
            fake.close_order(PHONE, [("Борщ", 500, 2), ("Чай", 150, 1)], number=12)
            fake.close_order(None, [("Кофе", 200, 1)], number=13)  # no guest: not a deal
            fake.close_order("+79165550000", [("Суп", 400, 1)], number=14)  # a new guest

            async def sync() -> int:
                report = await sync_link(
                    h.engine, client, link, h.services.now, grace=timedelta(0), b24=b24
                )
                assert report.error is None
                return report.deals

            assert await sync() == 2
            await h.settle()
            assert await sync() == 0  # read past them

            async def forget(conn: AsyncConnection) -> None:  # the mapping lost, read again
                await conn.execute(text("DELETE FROM iiko_orders"))
                await conn.execute(text("UPDATE iiko_links SET orders_revision = 0"))

            await run_in_transaction(h.engine, forget)
            await sync()
            await h.settle()

            async def mapped(conn: AsyncConnection) -> int:
                return int(
                    await conn.scalar(text("SELECT count(DISTINCT deal_id) FROM iiko_orders"))
                )

            assert await run_in_transaction(h.engine, mapped) == 2  # each to its own deal

        deals = h.call(
            "crm.deal.list",
            {"filter": {"ORIGINATOR_ID": "iiko"}, "select": ["ID", "CONTACT_ID", "STAGE_ID"]},
        )
        assert len(deals) == 2  # each order once, although the mapping was lost
        mine = [d for d in deals if int(d["CONTACT_ID"]) == anna]
        assert len(mine) == 1  # Анна found by phone, not made again
        assert mine[0]["STAGE_ID"] == "WON"
        rows = h.call("crm.deal.productrows.get", {"id": mine[0]["ID"]})
        assert [(r["PRODUCT_NAME"], float(r["PRICE"]), float(r["QUANTITY"])) for r in rows] == [
            ("Борщ", 500.0, 2.0),
            ("Чай", 150.0, 1.0),
        ]
        assert (await h.balance(anna)).available > 0  # the program's deal rules earned points
