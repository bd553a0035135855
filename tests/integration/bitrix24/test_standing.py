"""Histories and yearly totals are aggregates over the recorded shares of won deals."""

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24.standing import AsOf, histories, yearly_totals
from kopilka.ledger.book import ensure_portal
from kopilka.program.loader import load_program

EXAMPLES = Path(__file__).parents[3] / "examples"
TRIPS, EVENTS, SHOWS = 0, 2, 3


async def _won(
    db: AsyncConnection, portal: int, deal: int, category: int, at: str, shares: dict[int, int]
) -> None:
    closed = datetime.fromisoformat(at)
    await db.execute(
        text(
            "INSERT INTO b24_deals (portal_id, deal_id, category_id, stage_id, semantic, amount, "
            "contact_ids, closed_at) VALUES (:p, :d, :c, 'WON', 'S', :a, :ids, :t)"
        ),
        {
            "p": portal,
            "d": deal,
            "c": category,
            "a": sum(shares.values()),
            "ids": list(shares),
            "t": closed,
        },
    )
    for contact, amount in shares.items():
        await db.execute(
            text("INSERT INTO b24_deal_shares VALUES (:p, :d, :contact, :c, :t, :a)"),
            {"p": portal, "d": deal, "contact": contact, "c": category, "t": closed, "a": amount},
        )


async def test_totals_by_pipeline_and_year_in_program_time(db: AsyncConnection) -> None:
    program = load_program(EXAMPLES / "travel-club.yaml")
    portal = await ensure_portal(db, "member-standing")
    now = datetime(2026, 6, 1, tzinfo=UTC)
    await _won(db, portal, 1, TRIPS, "2026-03-01T10:00:00+00:00", {10: 150_000_00, 11: 150_000_00})
    # 31 Dec 2025 22:30 UTC is 1 Jan 2026 01:30 in Moscow: a 2026 trip
    await _won(db, portal, 2, TRIPS, "2025-12-31T22:30:00+00:00", {10: 50_000_00})
    await _won(db, portal, 3, TRIPS, "2024-05-05T10:00:00+00:00", {10: 70_000_00})
    await _won(db, portal, 4, EVENTS, "2026-02-01T10:00:00+00:00", {10: 3_000_00})
    await _won(db, portal, 5, SHOWS, "2026-02-02T10:00:00+00:00", {10: 2_000_00})
    await _won(db, portal, 6, TRIPS, "2015-05-05T10:00:00+00:00", {10: 1_00})  # too old

    totals = await yearly_totals(db, portal, program, now)
    assert set(totals) == {10, 11}
    assert totals[10]["UF_CRM_TRAVEL_2026"] == 200_000_00
    assert totals[10]["UF_CRM_TRAVEL_2024"] == 70_000_00
    assert totals[10]["UF_CRM_TRAVEL_2025"] == 0
    assert totals[10]["UF_CRM_EVENTS_2026"] == 5_000_00
    assert totals[11]["UF_CRM_TRAVEL_2026"] == 150_000_00
    # trips go by the trip's year (year_of): next year's field as well
    assert sorted(totals[11]) == sorted(
        [f"UF_CRM_TRAVEL_{y}" for y in range(2021, 2028)]
        + [f"UF_CRM_EVENTS_{y}" for y in range(2021, 2027)]
    )
    only = await yearly_totals(db, portal, program, now, contact_ids=[11, 99])
    assert only[99]["UF_CRM_TRAVEL_2026"] == 0
    assert only[11]["UF_CRM_TRAVEL_2026"] == 150_000_00


async def test_histories_exclude_the_deal_and_later_ones(db: AsyncConnection) -> None:
    program = load_program(EXAMPLES / "travel-club.yaml")
    portal = await ensure_portal(db, "member-standing-2")
    now = datetime(2026, 6, 1, tzinfo=UTC)
    await _won(db, portal, 1, TRIPS, "2026-01-10T10:00:00+00:00", {10: 100_00})
    await _won(db, portal, 2, TRIPS, "2026-01-10T10:00:00+00:00", {10: 200_00})
    await _won(db, portal, 3, EVENTS, "2026-02-10T10:00:00+00:00", {10: 400_00, 11: 400_00})

    everything = await histories(db, portal, program, [10, 11, 12], now=now)
    assert everything[10].won_deals == 3
    assert everything[10].won_deals_by_pipeline == {TRIPS: 2, EVENTS: 1}
    assert everything[10].purchases_total == 700_00
    assert everything[12].won_deals == 0

    without = await histories(db, portal, program, [10], now=now, exclude_deal=3)
    assert without[10].purchases_by_pipeline == {TRIPS: 300_00}

    # deal 2 was won at the same moment as deal 1: the lower id came first
    at_two = await histories(
        db,
        portal,
        program,
        [10],
        now=now,
        exclude_deal=2,
        as_of=AsOf(datetime.fromisoformat("2026-01-10T10:00:00+00:00"), 2),
    )
    assert at_two[10].won_deals == 1
    assert at_two[10].purchases_total == 100_00
