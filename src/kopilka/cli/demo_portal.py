"""The first part of ``kopilka demo``: scenario S1 through an emulated Bitrix24 portal.

b24emu starts with seeded data; Kopilka connects to it (incoming webhook + outgoing webhook token,
as a self-hosted install does), provisions its user fields, and a scripted manager moves deals
in the portal. The portal posts its events to Kopilka over HTTP; the worker syncs; the table shows
what the portal then displays: the contact's balance field and the deal's timeline comment.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from b24emu import Portal
from kopilka.config import Settings
from kopilka.db.engine import run_in_transaction
from kopilka.portals.service import disconnect_portal
from kopilka.process.devstack import Stack, example, kopilka_on_emulator
from kopilka.program.loader import load_program

BALANCE = "UF_CRM_KOP_BALANCE"
PAY = "UF_CRM_KOP_PAY_POINTS"
PHONE = "+79161234567"  # Анна's, for the cabinet of a serving demo


@dataclass(frozen=True)
class Told:
    """The story as told: its steps, and a contact and a deal worth opening afterwards."""

    steps: list[Step]
    contact: int
    deal: int
    phone: str


@dataclass
class Step:
    action: str
    contact: str
    balance: str
    timeline: str


class Manager:
    """Clicks in the portal, the way a manager would, and notes what the portal then shows."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.steps: list[Step] = []
        self.names: dict[int, str] = {}
        self.seen: dict[int, int] = {}

    def contact(self, name: str, type_id: str) -> int:
        cid = self.stack.add_contact(name, type_id)
        self.names[cid] = name
        return cid

    async def note(self, action: str, contact: int, deal: int) -> None:
        await self.stack.settle()
        shown = self.stack.contact(contact).get(BALANCE) or "—"
        comments = self.stack.comments(deal)
        new = comments[self.seen.get(deal, 0) :]
        self.seen[deal] = len(comments)
        self.steps.append(Step(action, self.names[contact], str(shown), "\n".join(new) or "—"))


async def portal_story(
    engine: AsyncEngine,
    member_id: str,
    then: Callable[[Stack, Told], Awaitable[None]],
    settings: Settings | None = None,
) -> None:
    """A fresh emulated portal (a new ``member_id`` per run: Kopilka's database outlives it),
    with Bitrix24's real rate limit (2/s, burst 50) and Kopilka's default pacing; Kopilka is
    installed as the portal's application, so its tabs are there. ``then`` runs while all of it
    is still up."""
    path, source = example("retail-wholesale.yaml")
    portal = Portal.seeded("demo", member_id=member_id)
    async with kopilka_on_emulator(
        engine, load_program(path), source, portal=portal, settings=settings or Settings(), app=True
    ) as stack:
        m = Manager(stack)
        anna = m.contact("Анна (розница)", "CLIENT")
        stack.call(
            "crm.contact.update",
            {"id": anna, "fields": {"PHONE": [{"VALUE": PHONE, "VALUE_TYPE": "MOBILE"}]}},
        )
        oleg = m.contact("Олег (опт)", "1")
        company = int(stack.call("crm.company.add", {"fields": {"TITLE": "ООО Ромашка"}}))

        d1 = stack.add_deal(anna, "10000")
        stack.move(d1, "WON")
        await m.note(f"deal #{d1} 10 000 ₽ won", anna, d1)
        d2 = stack.add_deal(oleg, "100000", category=1, fields={"COMPANY_ID": company})
        stack.move(d2, "C1:WON")
        await m.note(f"deal #{d2} 100 000 ₽ won in «Опт»", oleg, d2)
        d3 = stack.add_deal(anna, "90000")
        stack.move(d3, "WON")
        await m.note(f"deal #{d3} 90 000 ₽ won", anna, d3)
        d4 = stack.add_deal(anna, "10000", fields={PAY: "5000"})
        await m.note(f"deal #{d4} 10 000 ₽: pay 5 000 with points", anna, d4)
        rows = stack.call("crm.deal.productrows.get", {"id": d4})
        m.steps[-1].action += f" → row price {rows[0]['PRICE']}, discount {rows[0]['DISCOUNT_SUM']}"
        stack.move(d4, "WON")
        await m.note(f"deal #{d4} won", anna, d4)
        stack.move(d4, "PREPARATION")
        await m.note(f"deal #{d4} back to work", anna, d4)
        stack.move(d4, "WON")
        await m.note(f"deal #{d4} won again", anna, d4)
        d5 = stack.add_deal(anna, "1000", fields={PAY: "400"})
        await m.note(f"deal #{d5} 1 000 ₽: pay 400 with points", anna, d5)
        stack.move(d5, "LOSE")
        await m.note(f"deal #{d5} lost", anna, d5)
        try:
            await then(stack, Told(m.steps, anna, d4, PHONE))
        finally:  # the emulated portal ends with the demo: later runs must not call it

            async def disconnect(conn: AsyncConnection) -> None:
                await disconnect_portal(conn, stack.connection.portal_id)

            await run_in_transaction(engine, disconnect)


def steps_table(steps: list[Step]) -> Table:
    table = Table(
        title="Retail and wholesale (seed 000, scenario S1) in an emulated Bitrix24 portal",
        show_lines=True,
    )
    table.add_column("manager in the portal")
    table.add_column("contact")
    table.add_column(f"{BALANCE}", justify="right")
    table.add_column("deal timeline (written by Kopilka)")
    for s in steps:
        table.add_row(s.action, s.contact, s.balance, s.timeline)
    return table
