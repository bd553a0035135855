"""The daily jobs against an emulated portal over HTTP, the clock injected: the birthday window
(R-10), calendar expiry run late (R-09), the refresh of every contact's totals (R-16)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.bitrix24.connections import portal_program
from kopilka.bitrix24.daily import (
    BIRTHDAYS,
    EXPIRY,
    birthdate_of,
    flag_is_on,
    flush,
    read_all_contacts,
    refresh_all,
    run_daily,
    vanished_deals,
)
from kopilka.bitrix24.deferred import DAILY_TASK, defer_daily
from kopilka.bitrix24.sync import SYNC_LOCK
from kopilka.bitrix24.tasks import daily_tick_job
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import b24_daily_runs, b24_outbox
from kopilka.ledger.accrual import accrue
from kopilka.ledger.book import ensure_customer
from kopilka.process.devstack import emulated_portal
from kopilka.process.worker import run_worker
from tests.b24harness import Harness, kopilka_on_emulator

pytestmark = pytest.mark.timeout(180)

FLAG = "UF_CRM_BIRTHDAY_WINDOW"
CASHBACK = "UF_CRM_KOP_CASHBACK"
MSK = "+03:00"


@pytest.fixture
async def h(committed_engine: AsyncEngine) -> AsyncIterator[Harness]:
    async with kopilka_on_emulator(
        committed_engine, program="travel-club.yaml", portal=emulated_portal("empty"), worker=False
    ) as stack:
        yield stack


def at(moment: str) -> datetime:
    return datetime.fromisoformat(moment)


async def tick(h: Harness, moment: str, *only: str) -> dict[str, Any]:
    h.services.now = lambda: at(moment)
    report = await run_daily(h.services, h.connection.portal_id, only=only or (BIRTHDAYS,))
    return report.as_dict()


def person(h: Harness, name: str, born: str | None) -> int:
    fields: dict[str, Any] = {"NAME": name, "TYPE_ID": "CLIENT"}
    if born:
        fields["BIRTHDATE"] = born
    return int(h.call("crm.contact.add", {"fields": fields}))


def flagged(h: Harness, *contacts: int) -> list[bool]:
    return [flag_is_on(h.contact(c).get(FLAG)) for c in contacts]


def test_birthdate_and_checkbox_as_the_portal_sends_them() -> None:
    assert birthdate_of("1990-05-17T03:00:00+03:00") == date(1990, 5, 17)
    assert birthdate_of("1990-05-17T00:00:00-05:00") == date(1990, 5, 17)  # not shifted to UTC
    assert birthdate_of("17.05.1990") == date(1990, 5, 17)
    assert birthdate_of("") is None
    assert birthdate_of(None) is None
    assert birthdate_of("someday") is None
    assert [flag_is_on(v) for v in ("1", "Y", True, 1)] == [True] * 4
    assert [flag_is_on(v) for v in ("0", "N", False, None, "", 0)] == [False] * 6


async def test_birthday_window_on_then_cleared_in_the_program_time_zone(h: Harness) -> None:
    anna = person(h, "Анна", "1990-05-17")
    boris = person(h, "Борис", "1980-08-01")
    nobody = person(h, "Без даты", None)

    # 9 May 23:30 in Moscow: eight days before, outside; nothing is written at all.
    report = await tick(h, f"2026-05-09T23:30:00{MSK}")
    assert report["ran"] == [BIRTHDAYS]
    assert report["birthdays_on"] == 0
    assert flagged(h, anna, boris, nobody) == [False, False, False]
    async with h.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(b24_outbox)) == 0

    # An hour later it is 10 May in Moscow (still 9 May in UTC): seven days before, on.
    report = await tick(h, "2026-05-09T21:30:00+00:00")
    assert (report["birthdays_on"], report["birthdays_off"]) == (1, 0)
    assert flagged(h, anna, boris, nobody) == [True, False, False]
    assert h.contact(anna)[FLAG] == "1"

    # The same local day again: the daily job does not run twice.
    report = await tick(h, f"2026-05-10T18:00:00{MSK}")
    assert report["ran"] == []

    # Seven days after: still on, and nothing rewritten.
    report = await tick(h, f"2026-05-24T09:00:00{MSK}")
    assert (report["birthdays_on"], report["birthdays_off"]) == (0, 0)
    assert flagged(h, anna) == [True]

    # Eight days after: cleared (sent as 0, not "N", which the portal would store as 1).
    report = await tick(h, f"2026-05-25T09:00:00{MSK}")
    assert (report["birthdays_on"], report["birthdays_off"]) == (0, 1)
    assert flagged(h, anna, boris) == [False, False]
    assert h.contact(anna)[FLAG] == "0"

    async with h.engine.connect() as conn:
        days = (
            await conn.scalars(select(b24_daily_runs.c.day).order_by(b24_daily_runs.c.day))
        ).all()
    assert days == [date(2026, 5, d) for d in (9, 10, 24, 25)]


async def test_a_box_unticked_by_hand_is_ticked_again_next_day(h: Harness) -> None:
    anna = person(h, "Анна", "1990-05-17")
    await tick(h, f"2026-05-15T09:00:00{MSK}")
    assert flagged(h, anna) == [True]
    h.call("crm.contact.update", {"id": anna, "fields": {FLAG: 0}})
    await tick(h, f"2026-05-16T09:00:00{MSK}")
    assert flagged(h, anna) == [True]


@pytest.mark.parametrize(
    ("today", "inside"),
    [
        ("2026-02-20", False),  # common year: celebrated on 28 February, window 21 Feb - 7 Mar
        ("2026-02-21", True),
        ("2026-03-07", True),
        ("2026-03-08", False),
        ("2028-02-21", False),  # leap year: 29 February, window 22 Feb - 7 Mar
        ("2028-02-22", True),
        ("2028-03-07", True),
        ("2028-03-08", False),
    ],
)
async def test_29_february_birthdays(h: Harness, today: str, inside: bool) -> None:
    leapling = person(h, "Високосный", "2000-02-29")
    await tick(h, f"{today}T12:00:00{MSK}")
    assert flagged(h, leapling) == [inside]


async def test_windows_that_cross_the_new_year(h: Harness) -> None:
    january = person(h, "Январь", "1985-01-03")
    december = person(h, "Декабрь", "1985-12-29")
    expected = {
        "2026-12-21": [False, False],
        "2026-12-22": [False, True],  # 7 days before 29 Dec
        "2026-12-27": [True, True],  # 7 days before 3 Jan of next year
        "2027-01-05": [True, True],  # 7 days after 29 Dec of last year
        "2027-01-06": [True, False],
        "2027-01-10": [True, False],
        "2027-01-11": [False, False],
    }
    for today, flags in expected.items():
        await tick(h, f"{today}T12:00:00{MSK}")
        assert (today, flagged(h, january, december)) == (today, flags)


async def test_every_contact_is_read_in_a_few_batched_keyset_pages(h: Harness) -> None:
    made = [person(h, f"Клиент {n}", None) for n in range(330)]
    for contact in made[::3]:  # deleted contacts leave gaps in the IDs
        h.call("crm.contact.delete", {"id": contact})
    kept = set(made) - set(made[::3])
    before = dict(h.portal.stats.requests_by_method)
    client = h.services.client_for(h.connection)
    found = await read_all_contacts(client, ["BIRTHDATE"])
    spent = {
        m: n - before.get(m, 0)
        for m, n in h.portal.stats.requests_by_method.items()
        if n != before.get(m, 0)
    }
    assert kept <= set(found)
    assert all("BIRTHDATE" in c for c in found.values())
    assert spent == {"batch": 2}  # first page + highest ID, then every window at once


async def _grant_points(h: Harness, contact: int, amount: int, earned: str, key: str) -> None:
    """Points earned at ``earned`` under travel-club's end-of-year expiry, as a sync would."""

    async def unit(conn: Any) -> None:
        book, _program = await portal_program(conn, h.connection)
        customer = await ensure_customer(conn, h.connection.portal_id, f"contact:{contact}")
        await accrue(
            conn,
            book,
            customer_id=customer,
            amount=amount,
            key=key,
            reason="Кэшбэк 1 000 ₽ за мероприятие",
            actor="test",
            now=at(earned),
            expires_at=at("2026-01-01T00:00:00+03:00"),
        )

    await run_in_transaction(h.engine, unit)


async def test_expiry_after_new_year_runs_late_and_once(h: Harness) -> None:
    anna = person(h, "Анна", None)
    boris = person(h, "Борис", None)
    await _grant_points(h, anna, 1_000_00, "2025-12-10T12:00:00+03:00", "t1")
    await _grant_points(h, anna, 1_000_00, "2025-12-20T12:00:00+03:00", "t2")
    await _grant_points(h, boris, 1_000_00, "2025-12-30T12:00:00+03:00", "t3")

    # 31 Dec 23:59 Moscow: nothing is due yet.
    report = await tick(h, f"2025-12-31T23:59:00{MSK}", EXPIRY)
    assert report["expired_entries"] == 0

    # The service was down over New Year; on 3 January the cashback of 2025 expires, dated when
    # it was due, and the contacts' balance fields follow.
    report = await tick(h, f"2026-01-03T10:00:00{MSK}", EXPIRY)
    assert (report["expired_entries"], report["expired_points"]) == (2, 3_000_00)
    assert [h.contact(c)[CASHBACK] for c in (anna, boris)] == ["0", "0"]
    assert (await h.balance(anna)).available == 0
    async with h.engine.connect() as conn:
        expiries = (
            await conn.execute(
                text(
                    "SELECT DISTINCT t.id, t.effective_at, c.external_id"
                    "  FROM ledger_transactions t"
                    "  JOIN ledger_entries e ON e.transaction_id = t.id"
                    "  JOIN accounts a ON a.id = e.account_id AND a.kind = 'customer'"
                    "  JOIN customers c ON c.id = a.customer_id"
                    " WHERE t.kind = 'expiry'"
                )
            )
        ).all()
    assert {d.effective_at.astimezone(UTC) for d in expiries} == {at("2025-12-31T21:00:00+00:00")}
    entry = {r.external_id: r.id for r in expiries}
    assert sorted(entry) == sorted([f"contact:{anna}", f"contact:{boris}"])
    # Each contact's timeline has exactly one expiry comment, naming the ledger's own entry.
    for contact, burnt in ((anna, "2 000"), (boris, "1 000")):
        notes = h.call(
            "crm.timeline.comment.list",
            {"filter": {"ENTITY_ID": contact, "ENTITY_TYPE": "contact"}},
        )
        assert [n["COMMENT"].replace("\u00a0", " ") for n in notes] == [
            f"Копилка: сгорело {burnt} бонусов — баллы сгорели: срок истёк 01.01.2026 00:00"
            f" · запись №{entry[f'contact:{contact}']}"
        ]

    # A second run, that day or later, posts nothing and writes nothing.
    report = await tick(h, f"2026-01-03T10:10:00{MSK}", EXPIRY)
    assert (report["expired_entries"], report["writes"]) == (0, 0)
    report = await tick(h, f"2026-02-01T10:00:00{MSK}", EXPIRY)
    assert report["expired_entries"] == 0


async def _won(h: Harness, deal: int, category: int, closed: str, shares: dict[int, int]) -> None:
    """A won deal as the deal sync records it: the deal and each contact's share."""

    async def unit(conn: Any) -> None:
        await conn.execute(
            text(
                "INSERT INTO b24_deals (portal_id, deal_id, category_id, stage_id, semantic, "
                "amount, contact_ids, closed_at, applied_discount, synced_at) "
                "VALUES (:p, :d, :c, 'WON', 'S', :a, :ids, :t, '{}', now())"
            ),
            {
                "p": h.connection.portal_id,
                "d": deal,
                "c": category,
                "a": sum(shares.values()),
                "ids": list(shares),
                "t": at(closed),
            },
        )
        for contact, amount in shares.items():
            await conn.execute(
                text("INSERT INTO b24_deal_shares VALUES (:p, :d, :contact, :c, :t, :a)"),
                {
                    "p": h.connection.portal_id,
                    "d": deal,
                    "contact": contact,
                    "c": category,
                    "t": at(closed),
                    "a": amount,
                },
            )

    await run_in_transaction(h.engine, unit)


def totals_fields(h: Harness) -> None:
    """The yearly totals fields, as the club keeps them on its contacts (those provisioning
    did not make: it makes the years around the real today)."""
    have = {f["FIELD_NAME"] for f in h.call("crm.contact.userfield.list", {})}
    for year in range(2020, 2028):
        for kind in ("TRAVEL", "EVENTS"):
            if f"UF_CRM_{kind}_{year}" not in have:
                h.call(
                    "crm.contact.userfield.add",
                    {"fields": {"FIELD_NAME": f"{kind}_{year}", "USER_TYPE_ID": "double"}},
                )


async def test_every_contact_with_won_deals_gets_its_totals_recomputed(h: Harness) -> None:
    totals_fields(h)
    anna = person(h, "Анна", None)
    boris = person(h, "Борис", None)
    for contact in (anna, boris):  # stale values left by an earlier, since deleted, deal
        h.call("crm.contact.update", {"id": contact, "fields": {"UF_CRM_TRAVEL_2024": 999}})
    await _won(h, 901, 0, "2026-03-01T12:00:00+03:00", {anna: 100_000_00, boris: 50_000_00})
    await _won(h, 902, 2, "2025-06-01T12:00:00+03:00", {anna: 3_000_00})
    await _won(h, 903, 0, "2021-06-01T12:00:00+03:00", {boris: 7_000_00})
    now = at(f"2026-06-01T10:00:00{MSK}")
    async with h.engine.connect() as conn:
        book, program = await portal_program(conn, h.connection)
    seen: list[tuple[int, int]] = []
    refreshed = await refresh_all(
        h.services,
        h.connection,
        book,
        program,
        now,
        chunk=1,
        progress=lambda d, t: seen.append((d, t)),
    )
    await flush(h.services, h.connection)
    assert (refreshed, seen) == (2, [(1, 2), (2, 2)])
    card = h.contact(anna)
    assert (card["UF_CRM_TRAVEL_2026"], card["UF_CRM_EVENTS_2025"]) == ("100000", "3000")
    assert (card["UF_CRM_TRAVEL_2024"], card["UF_CRM_TRAVEL_2025"]) == ("0", "0")
    assert (card[CASHBACK], card["UF_CRM_KOP_WON_DEALS"]) == ("0", "2")
    card = h.contact(boris)
    assert (card["UF_CRM_TRAVEL_2026"], card["UF_CRM_TRAVEL_2021"]) == ("50000", "7000")
    assert card["UF_CRM_TRAVEL_2024"] == "0"

    # A new year: the oldest year leaves the window, the new one starts at 0.
    await refresh_all(h.services, h.connection, book, program, at(f"2027-01-01T00:10:00{MSK}"))
    await flush(h.services, h.connection)
    assert h.contact(boris)["UF_CRM_TRAVEL_2027"] == "0"


async def test_recorded_deals_gone_from_the_portal_are_found(h: Harness) -> None:
    anna = person(h, "Анна", None)
    kept = h.add_deal(anna, "100")
    await _won(h, kept, 0, "2026-03-01T12:00:00+03:00", {anna: 100_00})
    await _won(h, 99999, 0, "2026-03-01T12:00:00+03:00", {anna: 100_00})
    assert await vanished_deals(h.services, h.connection) == [99999]


async def test_the_tick_defers_one_daily_run_per_portal_and_a_worker_runs_it(h: Harness) -> None:
    anna = person(h, "Анна", None)
    # A fixed clock: the real one, read twice near Moscow midnight, could name two days.
    moment = at(f"2026-03-10T12:00:00{MSK}")
    h.services.now = lambda: moment
    today = moment.astimezone(ZoneInfo("Europe/Moscow")).date()
    h.call("crm.contact.update", {"id": anna, "fields": {"BIRTHDATE": today.isoformat()}})
    context = SimpleNamespace(additional_context={"services": h.services})
    await daily_tick_job(context, 0)  # type: ignore[arg-type]
    await daily_tick_job(context, 0)  # type: ignore[arg-type]  # one run waits already

    async def waiting(conn: Any) -> bool:
        return await defer_daily(conn, h.connection.portal_id)

    assert await run_in_transaction(h.engine, waiting) is False
    async with h.engine.connect() as conn:
        queued = await conn.scalar(
            text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = :t"),
            {"t": DAILY_TASK},
        )
    assert queued == 1
    await run_worker(h.services, wait=False, install_signal_handlers=False)
    async with h.engine.connect() as conn:
        ran = (await conn.execute(select(b24_daily_runs.c.job, b24_daily_runs.c.day))).all()
    assert sorted(ran) == [("birthdays", today), ("totals", today)]
    assert flagged(h, anna) == [True]


async def test_a_refresh_waits_for_the_portals_running_sync(h: Harness) -> None:
    anna = person(h, "Анна", None)
    await _won(h, 905, 0, "2026-03-01T12:00:00+03:00", {anna: 100_00})
    async with h.engine.connect() as conn:
        book, program = await portal_program(conn, h.connection)
    lock = {"ns": SYNC_LOCK, "p": h.connection.portal_id}
    async with h.engine.connect() as sync:  # a drain in progress holds the portal's lock
        await sync.execute(text("SELECT pg_advisory_lock(:ns, :p)"), lock)
        await sync.commit()
        refresh = asyncio.create_task(
            refresh_all(h.services, h.connection, book, program, at("2026-06-01T10:00:00+03:00"))
        )
        await asyncio.sleep(0.5)
        assert not refresh.done()
        async with h.engine.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(b24_outbox)) == 0
        await sync.execute(text("SELECT pg_advisory_unlock(:ns, :p)"), lock)
        await sync.commit()
        assert await asyncio.wait_for(refresh, 10) == 1
