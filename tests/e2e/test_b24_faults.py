"""The connector under Bitrix24's failures, each run ending with exactly the expected ledger and
contact fields: duplicated, reordered and dropped events, 503 storms, 500s, an access token that
expires mid-run, a forged application token."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from b24emu import Faults, RateLimit
from kopilka.bitrix24.connections import get_connection
from kopilka.bitrix24.service import run_sync
from kopilka.bitrix24.sync import dirty_count
from kopilka.config import Settings
from kopilka.db.tables import b24_outbox, b24_rejected_events
from kopilka.process.devstack import emulated_portal
from tests.b24harness import Harness, kopilka_on_emulator

pytestmark = pytest.mark.timeout(240)

BALANCE = "UF_CRM_KOP_BALANCE"
PAY = "UF_CRM_KOP_PAY_POINTS"


@dataclass
class Book:
    """A small day at the shop and what it must come to."""

    contacts: dict[str, int]
    expected: dict[str, tuple[int, int]]  # name -> (available, held) in kopecks


def _deal(h: Harness, contact: int, amount: str, pay: str | None = None) -> int:
    return h.add_deal(contact, amount, fields={PAY: pay} if pay else None)


async def a_day_at_the_shop(h: Harness, *, settle_between: bool = True) -> Book:
    """Several contacts, wins, a payment with points, a reopened deal, a lost one, a deletion."""
    c = {name: h.add_contact(name) for name in ("Анна", "Борис", "Вера", "Глеб")}
    big = _deal(h, c["Анна"], "100000")  # +5 000
    h.move(big, "WON")
    for name in ("Борис", "Вера", "Глеб"):
        d = _deal(h, c[name], "20000")  # +1 000 each
        h.move(d, "WON")
    gone = _deal(h, c["Глеб"], "40000")  # won, then deleted: +2 000 then reversed
    h.move(gone, "WON")
    if settle_between:
        await h.settle()
    pay = _deal(h, c["Анна"], "10000", pay="5000")  # 4 000 held, captured, +300
    h.move(pay, "WON")
    reopened = _deal(h, c["Борис"], "10000")  # won, back to work, won again: +500 once
    h.move(reopened, "WON")
    h.move(reopened, "PREPARATION")
    h.move(reopened, "WON")
    lost = _deal(h, c["Вера"], "2000", pay="800")  # 800 held then released
    h.move(lost, "LOSE")
    h.call("crm.deal.delete", {"id": gone})
    return Book(
        contacts=c,
        expected={
            "Анна": (1_300_00, 0),
            "Борис": (1_500_00, 0),
            "Вера": (1_000_00, 0),
            "Глеб": (1_000_00, 0),
        },
    )


async def assert_books(h: Harness, book: Book) -> None:
    for name, (available, held) in book.expected.items():
        state = await h.balance(book.contacts[name])
        assert (name, state.available, state.held) == (name, available, held)
        shown = h.contact(book.contacts[name]).get(BALANCE)
        assert (name, str(shown)) == (name, str(available // 100))


async def test_every_event_duplicated(committed_engine: AsyncEngine) -> None:
    portal = emulated_portal()
    portal.faults = Faults(duplicate_events=1.0, seed=3)
    async with kopilka_on_emulator(committed_engine, portal=portal) as h:
        book = await a_day_at_the_shop(h)
        await h.settle()
        await assert_books(h, book)
        assert portal.stats.events_duplicated > 0


async def test_events_reordered_and_delayed(committed_engine: AsyncEngine) -> None:
    portal = emulated_portal()
    portal.faults = Faults(reorder_events=True, delay_events=0.3, seed=5)
    async with kopilka_on_emulator(committed_engine, portal=portal) as h:
        book = await a_day_at_the_shop(h, settle_between=False)
        await h.settle()
        await assert_books(h, book)


async def test_dropped_events_are_repaired_by_the_sweep(committed_engine: AsyncEngine) -> None:
    portal = emulated_portal()
    portal.faults = Faults(drop_events=0.1, seed=11)
    async with kopilka_on_emulator(committed_engine, portal=portal, worker=False) as h:
        book = await a_day_at_the_shop(h, settle_between=False)
        await h.portal.flush_events()
        # The worker is off: run what it would run, then the sweep that repairs what was lost.
        await run_sync(h.services, h.connection.portal_id)
        await run_sync(h.services, h.connection.portal_id, sweep=True)
        await assert_books(h, book)
        assert portal.stats.events_dropped > 0


async def test_503_storms(committed_engine: AsyncEngine) -> None:
    # The portal's bucket is tiny, and Kopilka is told to pace far faster than it allows.
    portal = emulated_portal(rate_limit=RateLimit(burst=1, per_second=2.0, enabled=True))
    greedy = Settings(b24_interval=0.001, b24_burst=100)
    async with kopilka_on_emulator(committed_engine, portal=portal, settings=greedy) as h:
        portal.stats.reset()
        book = await a_day_at_the_shop(h)
        await h.settle(timeout=120)
        await assert_books(h, book)
        assert portal.stats.rejected_503 > 0  # there was a storm, and it changed nothing


async def test_500s(committed_engine: AsyncEngine) -> None:
    portal = emulated_portal()
    async with kopilka_on_emulator(committed_engine, portal=portal) as h:
        portal.faults = Faults(error_500_rate=0.25, seed=7)
        book = await a_day_at_the_shop(h)
        await h.settle(timeout=120)
        portal.faults = Faults()
        await h.settle(timeout=60)
        await assert_books(h, book)
        assert portal.stats.errors_500 > 0
        # a timeline comment is never duplicated: each ledger transaction has one outbox row,
        # and the portal shows no more comments than rows sent or of unknown outcome
        shown = len(portal.timeline_comments)
        async with h.engine.connect() as conn:
            rows = dict(
                (
                    await conn.execute(
                        select(b24_outbox.c.status, func.count())
                        .where(b24_outbox.c.key.like("comment:%"))
                        .group_by(b24_outbox.c.status)
                    )
                ).all()
            )
        assert rows.get("failed", 0) == 0
        assert rows.get("sent", 0) > 0  # unanswered batches were read back, not given up
        assert rows.get("sent", 0) <= shown <= rows.get("sent", 0) + rows.get("unknown", 0)


async def test_access_token_expiring_mid_run(committed_engine: AsyncEngine) -> None:
    portal = emulated_portal()
    async with kopilka_on_emulator(committed_engine, portal=portal, app=True) as h:
        portal.access_token_ttl = 3600.0
        book_part = await a_day_at_the_shop(h)
        portal.expire_access_tokens()  # every token Kopilka holds is now dead
        await h.settle()
        await assert_books(h, book_part)
        async with h.engine.connect() as conn:
            connection = await get_connection(conn, h.connection.portal_id)
        assert connection.mode == "app"
        client = h.services.client_for(connection)
        assert client.refreshes >= 1


async def test_forged_application_token_changes_nothing(committed_engine: AsyncEngine) -> None:
    # No worker (its periodic sweep would rightly find the deal): only the door is under test.
    async with kopilka_on_emulator(committed_engine, worker=False) as h:
        contact = h.add_contact("Анна")
        h.portal.faults = Faults(drop_events=1.0)  # the real events are lost ...
        deal = _deal(h, contact, "10000")
        h.move(deal, "WON")
        await h.portal.flush_events()
        forged = {  # ... and a forger posts one for the deal with a made-up token
            "event": "ONCRMDEALUPDATE",
            "data[FIELDS][ID]": str(deal),
            "auth[domain]": h.portal.domain,
            "auth[member_id]": h.portal.member_id,
            "auth[application_token]": "f" * 32,
        }
        async with httpx.AsyncClient(base_url=h.web_url) as http:
            answer = await http.post("/b24/events", data=forged)
        assert answer.status_code == 401
        async with h.engine.connect() as conn:
            dirty = await dirty_count(conn, h.connection.portal_id)
            jobs = await conn.scalar(text("SELECT count(*) FROM procrastinate_jobs"))
            rejected = await conn.scalar(select(func.count()).select_from(b24_rejected_events))
        assert (dirty, jobs, rejected) == (0, 0, 1)
