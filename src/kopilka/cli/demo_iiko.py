"""``kopilka demo --iiko``: a restaurant on iiko, on an emulated portal and a local iikoCloud.

Анна wins a deal in Bitrix24; her iikoCard wallet shows the points; the till spends 300 and
the ledger, her contact field and the wallet follow; the till refunds; a closed restaurant order
becomes a won deal that earns points, which reach the wallet on the next reconcile.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from b24emu import Portal
from kopilka.cards.service import issue_by_hand
from kopilka.cli.common import out
from kopilka.config import Settings, get_settings
from kopilka.db.engine import run_in_transaction
from kopilka.domain.money import format_points
from kopilka.fakes.iiko import IikoFake
from kopilka.iiko.client import IikoClient
from kopilka.iiko.service import connect, sync_link
from kopilka.process.devstack import Stack, example, kopilka_on_emulator
from kopilka.process.runtime import open_engine
from kopilka.program.loader import load_program

PHONE = "+79161112233"  # no seeded contact has it
LOGIN = "demo-api-login"


async def run_iiko_demo() -> None:
    settings = get_settings()
    path, source = example("retail-wholesale.yaml")
    table = Table(title="A restaurant on iiko (issue 20) — docs/iiko.md")
    for column in ("step", "Kopilka", "iikoCard wallet", "contact field"):
        table.add_column(column)
    async with open_engine(settings, migrate=True) as engine, httpx.AsyncClient() as http:
        member = "emu-iiko-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        portal = Portal.seeded("demo", member_id=member)
        async with kopilka_on_emulator(
            engine, load_program(path), source, portal=portal, settings=Settings()
        ) as h:
            with IikoFake(api_login=LOGIN) as fake:
                await _story(h, fake, http, table)
    out.print(table)


async def _story(h: Stack, fake: IikoFake, http: httpx.AsyncClient, table: Table) -> None:
    anna = int(
        h.call(
            "crm.contact.add",
            {"fields": {"NAME": "Анна", "PHONE": [{"VALUE": PHONE, "VALUE_TYPE": "MOBILE"}]}},
        )
    )
    portal_id = h.connection.portal_id
    client = IikoClient(http, fake.url, LOGIN, fake.organization_id)

    async def link_it(conn: AsyncConnection):  # type: ignore[no-untyped-def]
        return await connect(conn, client, portal_id, base_url=fake.url, api_login=LOGIN)

    link = await run_in_transaction(h.engine, link_it)
    b24 = h.services.client_for(h.connection)

    async def note(step: str) -> None:
        await sync_link(h.engine, client, link, h.services.now, grace=timedelta(0), b24=b24)
        await h.settle()
        guest = fake.guest_by_phone(PHONE)
        wallet = f"{guest.balance:.0f}" if guest else "—"
        shown = str(h.contact(anna).get("UF_CRM_KOP_BALANCE") or "—")
        table.add_row(step, format_points((await h.balance(anna)).available), wallet, shown)

    h.move(h.add_deal(anna, "10000"), "WON")
    await h.settle()
    await issue_by_hand(h.services, portal_id, anna, actor="kopilka demo")  # the card: her phone
    await note("deal 10 000 ₽ won in Bitrix24; reconcile")
    fake.till_spend(PHONE, 300, order="12")
    await note("the till pays 300 with points (order 12)")
    fake.till_refund(PHONE, 300, order="12")
    await note("the till refunds order 12")
    fake.close_order(PHONE, [("Борщ", 500, 2), ("Чай", 150, 1)], number=13)
    await note("order 13 (1 150 ₽) closed in iiko → a won deal")
    await note("the next reconcile")
