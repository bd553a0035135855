"""Every report's numbers on the hand-computed history of ``history.py`` (its docstring is the
worked example), and the CSV and XLSX exports (read back with openpyxl) hold the same numbers."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.api.portal import customer_by_id, customer_level
from kopilka.ledger.accrual import accrue
from kopilka.ledger.book import ensure_customer
from kopilka.ledger.invariants import check_invariants
from kopilka.ledger.spending import capture_hold, place_hold
from kopilka.reports.exports import tables, to_csv, to_xlsx
from kopilka.reports.schemas import Range, Report
from kopilka.reports.service import build_report
from kopilka.reports.words import words
from tests.factories import ref
from tests.integration.reports.history import FIRST, LAST, NOW, P, at, seed_history

#: (accrued, reversed, redeemed, expired) per month, in points
FLOWS = {
    date(2026, 1, 1): (700, 0, 300, 0),
    date(2026, 2, 1): (1500, 0, 0, 700),
    date(2026, 3, 1): (0, 1000, 250, 0),
    date(2026, 4, 1): (950, 0, -100, 0),
}
TZ = ZoneInfo("Europe/Moscow")
OPENING = 1000
OUTSTANDING = {
    date(2026, 1, 31): 1400,
    date(2026, 2, 28): 2200,
    date(2026, 3, 31): 950,
    date(2026, 4, 30): 2000,
}


async def report_of(db: AsyncConnection, first: date = FIRST, last: date = LAST) -> Report:
    seeded = await seed_history(db)
    assert await check_invariants(db) == []
    return await build_report(db, seeded.book, seeded.program, Range(first, last, TZ), NOW)


async def test_every_report_equals_the_hand_computed_figures(db: AsyncConnection) -> None:
    report = await report_of(db)
    assert report.range.unit == "month"
    assert report.opening == OPENING * P
    got = {f.bucket: (f.accrued, f.reversed, f.redeemed, f.expired) for f in report.flows}
    assert got == {k: tuple(v * P for v in vs) for k, vs in FLOWS.items()}
    assert {o.at: o.points for o in report.outstanding} == {
        k: v * P for k, v in OUTSTANDING.items()
    }
    total = report.totals
    assert (total.accrued, total.reversed, total.redeemed, total.expired) == (
        3150 * P,
        1000 * P,
        450 * P,
        700 * P,
    )
    assert report.closing == report.opening + total.net == 2000 * P
    assert report.breakage is not None
    assert round(report.breakage, 6) == round(700 / (700 + 450), 6)
    assert (report.active, report.redeeming) == (3, 2)  # A, B, D; A and B spent
    assert [(e.days, e.points, e.customers) for e in report.expiring] == [
        (30, 500 * P, 1),
        (60, 900 * P, 2),
        (90, 1200 * P, 3),
    ]
    assert report.levels is not None
    assert [(lv.level_id, lv.customers) for lv in report.levels] == [
        ("start", 2),
        ("silver", 1),
        ("gold", 1),
    ]
    assert [(c.name, c.points) for c in report.top_accrued] == [
        ("Борис B", 1700 * P),
        ("Анна A", 900 * P),
        ("Глеб D", 550 * P),
    ]
    assert [(c.name, c.points) for c in report.top_balance] == [
        ("Анна A", 750 * P),
        ("Борис B", 700 * P),
        ("Глеб D", 550 * P),
        ("Вера C", 50 * P),
    ]
    manual = [(m.actor, m.reason, m.title, m.grants, m.points, m.reversed) for m in report.manual]
    assert manual == [
        ("admin:ivan", "apology", "Бонус-извинение", 1, 1000 * P, 1000 * P),
        ("admin:olga", "review", "Бонус за отзыв", 1, 500 * P, 0),
        ("admin:olga", "apology", "Бонус-извинение", 1, 250 * P, 0),
    ]


async def test_a_short_range_is_reported_day_by_day_in_the_programs_time_zone(
    db: AsyncConnection,
) -> None:
    seeded = await seed_history(db)
    span = Range(date(2026, 2, 14), date(2026, 2, 16), TZ)
    report = await build_report(db, seeded.book, seeded.program, span, NOW)
    assert report.range.unit == "day"
    assert report.opening == 1400 * P
    # A's lot expired at 15.02 00:00 in Moscow (14.02 21:00 UTC): on the 15th, not the 14th.
    assert [(f.bucket.day, f.expired) for f in report.flows] == [(14, 0), (15, 700 * P), (16, 0)]
    assert [o.points for o in report.outstanding] == [1400 * P, 700 * P, 700 * P]
    new_year = Range(date(2026, 1, 1), date(2026, 1, 1), TZ)
    january = await build_report(db, seeded.book, seeded.program, new_year, NOW)
    # 31.12 22:00 UTC is New Year's night in Moscow: B's 200 are January's, not the opening's.
    assert (january.opening, january.flows[0].accrued) == (1000 * P, 200 * P)


def _points(kopecks: int) -> Decimal:
    return Decimal(kopecks) / 100


async def test_the_exports_hold_the_same_numbers(db: AsyncConnection) -> None:
    report = await report_of(db)
    for lang in ("ru", "en"):
        for name, table in tables(report, words(lang)).items():
            book = load_workbook(io.BytesIO(to_xlsx(table)))
            sheet = book[name]
            rows = [list(r) for r in sheet.iter_rows(values_only=True)]
            assert rows[0] == table.headers
            written = list(csv.reader(io.StringIO(to_csv(table).decode("utf-8-sig"))))
            assert written[0] == table.headers
            assert len(rows) == len(written) == len(table.rows) + 1, name
    ru = tables(report, words("ru"))

    def sheet_of(name: str) -> list[list[object]]:
        book = load_workbook(io.BytesIO(to_xlsx(ru[name])))
        return [list(r) for r in book[name].iter_rows(min_row=2, values_only=True)]

    def csv_of(name: str) -> list[list[str]]:
        return list(csv.reader(io.StringIO(to_csv(ru[name]).decode("utf-8-sig"))))[1:]

    flows = sheet_of("flows")
    assert [tuple(r[1:5]) for r in flows[:-1]] == [
        tuple(_points(v * P) for v in vs) for vs in FLOWS.values()
    ]
    assert flows[-1] == ["Итого", 3150, 1000, 450, 700, 1000]
    assert [r[1:5] for r in csv_of("flows")][:2] == [
        ["700.00", "0.00", "300.00", "0.00"],
        ["1500.00", "0.00", "0.00", "700.00"],
    ]
    liability = sheet_of("liability")
    assert [r[0].date() for r in liability] == [date(2025, 12, 31), *OUTSTANDING]  # type: ignore[union-attr]
    assert [r[1] for r in liability] == [OPENING, *OUTSTANDING.values()]
    assert [r[2] for r in liability] == [OPENING, *OUTSTANDING.values()]  # 1 point = 1 ₽
    assert csv_of("liability")[-1] == ["2026-04-30", "2000.00", "2000.00"]
    assert sheet_of("expiring") == [["30 дн.", 500, 1], ["60 дн.", 900, 2], ["90 дн.", 1200, 3]]
    activity = sheet_of("activity")
    assert activity[:2] == [["Активные клиенты", 3], ["Тратили баллы", 2]]
    assert round(float(activity[2][1]), 6) == round(700 / 1150, 6)  # type: ignore[arg-type]
    assert csv_of("activity")[2] == ["Доля сгорания (breakage)", "0.6087"]
    assert sheet_of("levels") == [["Старт", 2], ["Серебро", 1], ["Золото", 1]]
    assert sheet_of("top_accrued") == [
        ["Борис B", "contact:2", 1700],
        ["Анна A", "contact:1", 900],
        ["Глеб D", "contact:4", 550],
    ]
    assert [r[2] for r in sheet_of("top_balance")] == [750, 700, 550, 50]
    assert sheet_of("manual") == [
        ["admin:ivan", "Бонус-извинение", 1, 1000, 1000],
        ["admin:olga", "Бонус за отзыв", 1, 500, 0],
        ["admin:olga", "Бонус-извинение", 1, 250, 0],
    ]


async def test_a_hold_captured_whole_makes_a_redeeming_customer(db: AsyncConnection) -> None:
    """A capture of a whole hold moves points held → redeemed and has no leg on the customer's
    own account: the customer spent all the same."""
    seeded = await seed_history(db)
    eva = await ensure_customer(db, seeded.portal_id, "contact:5", name="Ева E")
    await accrue(
        db,
        seeded.book,
        customer_id=eva,
        amount=100 * P,
        key=ref("acc"),
        reason="покупка",
        actor="sync",
        now=at("2026-04-20"),
    )
    hold = await place_hold(
        db,
        seeded.book,
        customer_id=eva,
        amount=100 * P,
        key=ref("hold"),
        reason="заказ",
        actor="sync",
        now=at("2026-04-21"),
        expires_at=at("2026-04-25"),
    )
    captured = await capture_hold(
        db, seeded.book, hold_id=hold.id, key=ref("cap"), actor="sync", now=at("2026-04-22")
    )
    assert {leg.account_kind for leg in captured.legs} == {"held", "redeemed"}
    report = await build_report(db, seeded.book, seeded.program, Range(FIRST, LAST, TZ), NOW)
    assert (report.active, report.redeeming) == (4, 3)
    assert report.flows[-1].redeemed == (-100 + 100) * P


async def test_the_levels_are_the_ones_the_cabinet_shows(db: AsyncConnection) -> None:
    seeded = await seed_history(db)
    shown: Counter[str | None] = Counter()
    for customer_id in seeded.ids.values():
        who = await customer_by_id(db, seeded.portal_id, customer_id)
        level = await customer_level(db, seeded.book, seeded.program, who, NOW)
        assert level is not None
        shown[level.level_id] += 1
    report = await build_report(db, seeded.book, seeded.program, Range(FIRST, LAST, TZ), NOW)
    assert report.levels is not None
    assert {lv.level_id: lv.customers for lv in report.levels if lv.customers} == dict(shown)
