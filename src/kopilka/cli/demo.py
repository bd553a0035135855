"""``kopilka demo``: a scripted story through the program engine and the ledger.

It starts the database (embedded unless configured), migrates it, and plays two of the
customers' cases on a fresh demo portal, with a simulated clock:

1. retail and wholesale (scenario S1) in an emulated Bitrix24 portal (b24emu): a manager wins
   deals, pays with points (capped at 40 %), reopens and re-wins a deal and loses one; Kopilka
   receives the portal's events over HTTP and writes balances and explanations back;
2. the travel club (seed 004): event cashback, a review bonus, and the year-end reset at
   00:00 on 1 January, Moscow time.

Every step prints what the portal shows (contact field, deal timeline) or the balances before
and after, with the ledger's own reasons.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.panel import Panel
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.cards.service import issue_by_hand
from kopilka.cli.common import load, out
from kopilka.cli.demo_live import links, live, serve_until_stopped
from kopilka.cli.demo_portal import Told, portal_story, steps_table
from kopilka.config import Settings, get_settings
from kopilka.db.engine import run_in_transaction, safe_url
from kopilka.domain.deal import Contact, Deal
from kopilka.domain.money import format_points
from kopilka.ledger.book import ensure_customer, ensure_portal
from kopilka.ledger.deals import Reconciled, settle_deal
from kopilka.ledger.expiry import due_accounts, expire_account
from kopilka.ledger.grants import grant
from kopilka.ledger.invariants import check_invariants
from kopilka.ledger.queries import balance
from kopilka.ledger.types import Book, Posted
from kopilka.lifecycle.service import active_program, apply_program
from kopilka.process.devstack import Stack
from kopilka.process.runtime import open_engine
from kopilka.program.model import Program

RUB = 100
Action = Callable[[AsyncConnection], Awaitable[object]]
MSK = ZoneInfo("Europe/Moscow")
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@dataclass
class Row:
    step: str
    customer: str
    before: int
    after: int
    reasons: str


class Story:
    """One program on the demo portal: customers by name, and a log of what each step did."""

    def __init__(self, engine: AsyncEngine, book: Book, program: Program) -> None:
        self.engine, self.book, self.program = engine, book, program
        self.customers: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self.rows: list[Row] = []

    async def add(self, contact: Contact, name: str) -> None:
        async def unit(conn: AsyncConnection) -> int:
            return await ensure_customer(conn, self.book.portal_id, str(contact.id), name=name)

        self.customers[contact.id] = await run_in_transaction(self.engine, unit)
        self.names[contact.id] = name

    async def available(self, contact_id: int, now: datetime) -> tuple[int, int]:
        async def unit(conn: AsyncConnection) -> tuple[int, int]:
            b = await balance(conn, self.book, self.customers[contact_id], now)
            return b.available, b.held

        return await run_in_transaction(self.engine, unit)

    async def step(
        self,
        title: str,
        now: datetime,
        contacts: list[int],
        action: Action,
        *,
        before_at: datetime | None = None,
    ) -> None:
        before = {c: await self.available(c, before_at or now) for c in contacts}
        result = await run_in_transaction(self.engine, action)
        for c in contacts:
            after = await self.available(c, now)
            held = f" (held {format_points(after[1])})" if after[1] else ""
            reasons = _reasons(result, self.customers[c])
            self.rows.append(
                Row(title, self.names[c], before[c][0], after[0], (reasons or "no change") + held)
            )

    def deal(self, d: Deal, now: datetime) -> Action:
        async def unit(conn: AsyncConnection) -> Reconciled:
            _effects, result = await settle_deal(
                conn, self.book, self.program, d, customers=self.customers, now=now, actor="demo"
            )
            return result

        return unit


def _reasons(result: object, customer_id: int) -> str:
    """What the step posted for this customer, in the ledger's own words."""
    posted: list[Posted] = []
    if isinstance(result, Reconciled):
        posted = result.posted
    elif isinstance(result, Posted):
        posted = [result]
    elif isinstance(result, list):
        posted = [p for p in result if isinstance(p, Posted)]
    lines = [
        f"#{p.id} {p.kind}: {p.reason}"
        for p in posted
        if any(leg.customer_id == customer_id for leg in p.legs)
    ]
    if isinstance(result, Reconciled) and result.hold is not None:
        lines.append(f"hold #{result.hold.id}: {result.hold.reason}")
    return "; ".join(lines)


def _table(title: str, rows: list[Row]) -> Table:
    table = Table(title=title, show_lines=True)
    table.add_column("step")
    table.add_column("customer")
    table.add_column("before", justify="right")
    table.add_column("after", justify="right")
    table.add_column("why (from the ledger)")
    for row in rows:
        change = row.after - row.before
        after = format_points(row.after)
        if change:
            after += f"\n({'+' if change > 0 else ''}{format_points(change)})"
        table.add_row(row.step, row.customer, format_points(row.before), after, row.reasons)
    return table


async def _open_story(engine: AsyncEngine, path: Path, portal: str) -> Story:
    program, source = load(path)

    async def unit(conn: AsyncConnection) -> Book:
        portal_id = await ensure_portal(conn, portal, "Kopilka demo")
        now = datetime.now(UTC)
        await apply_program(conn, portal_id, program, source, actor="kopilka demo", now=now)
        book, _program = await active_program(conn, portal_id, now)
        return book

    return Story(engine, await run_in_transaction(engine, unit), program)


async def travel_club(engine: AsyncEngine, portal: str) -> Story:
    s = await _open_story(engine, EXAMPLES / "travel-club.yaml", portal)
    vera = Contact(201, is_primary=True)
    gleb = Contact(202)
    await s.add(vera, "Вера")
    await s.add(gleb, "Глеб")
    t = datetime(2026, 12, 5, 19, 0, tzinfo=MSK)
    both = [vera.id, gleb.id]
    await s.step(
        "concert, deal #21 (2 contacts), won",
        t,
        both,
        s.deal(Deal(21, 2, "won", 24_000 * RUB, (vera, gleb)), t),
    )
    await s.step(
        "gala dinner, deal #22, won",
        t,
        [vera.id],
        s.deal(Deal(22, 2, "won", 15_000 * RUB, (vera,)), t),
    )

    async def review(conn: AsyncConnection) -> Posted:
        return await grant(
            conn,
            s.book,
            s.program,
            customer_id=s.customers[gleb.id],
            reason="review",
            amount=None,
            actor="manager Ольга",
            key="demo:review:202",
            now=t,
            comment="отзыв о концерте",
        )

    await s.step("review bonus for Глеб", t, [gleb.id], review)
    new_year = datetime(2027, 1, 1, 0, 0, tzinfo=MSK)

    async def expire(conn: AsyncConnection) -> list[Posted]:
        posted: list[Posted] = []
        for account in await due_accounts(conn, s.book, new_year):
            posted += await expire_account(conn, s.book, account, now=new_year)
        return posted

    await s.step(
        "clock passes 01.01.2027 00:00 MSK: expiry run",
        new_year,
        both,
        expire,
        before_at=new_year - timedelta(seconds=1),
    )
    return s


async def run_demo(*, serve: bool = False) -> None:
    """The story; with ``serve``, everything stays up afterwards until Ctrl+C (demo_live)."""
    settings = get_settings()
    portal = "demo-" + datetime.now(MSK).strftime("%Y%m%d-%H%M%S")
    member = f"emu-{portal}"
    async with open_engine(settings, migrate=True) as engine, live() as running:
        out.print(
            Panel.fit(
                f"Kopilka demo — database {safe_url(str(engine.url))}\n"
                f"portal «{portal}»; programs from {EXAMPLES.name}/",
                title="копилка",
            )
        )
        out.print("Starting an emulated Bitrix24 portal (b24emu) and installing Kopilka in it…")

        async def then(stack: Stack, told: Told) -> None:
            out.print(steps_table(told.steps))
            await _rest_of_story(engine, portal)
            if serve:  # Анна's card is her phone: the cabinet's login
                await issue_by_hand(
                    stack.services, stack.connection.portal_id, told.contact, actor="kopilka demo"
                )
                out.print(links(stack, running, told.contact, told.deal, told.phone))
                await serve_until_stopped(running)

        base = running.settings(Settings(), member) if serve else None
        await portal_story(engine, member, then, base)


async def _rest_of_story(engine: AsyncEngine, portal: str) -> None:
    club = await travel_club(engine, portal)
    out.print(
        _table(
            "Travel club (seed 004): cashback resets on 1 January — examples/travel-club.yaml",
            club.rows,
        )
    )

    async def invariants(conn: AsyncConnection) -> int:
        return len(await check_invariants(conn))

    broken = await run_in_transaction(engine, invariants)
    out.print(
        "ledger invariants: " + ("[green]all hold[/]" if not broken else f"[red]{broken} broken[/]")
    )
    out.print(
        f"Try: kopilka history 202 --portal {portal}   ·   kopilka explain ENTRY --portal "
        f"{portal}   ·   kopilka program show --portal {portal}"
    )
