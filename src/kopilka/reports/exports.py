"""Each report as a table, and a table as CSV or XLSX (openpyxl: ``docs/decisions.md``).

Points are written as numbers of points with two decimals (the ledger's kopecks / 100), dates
as dates, shares as fractions (XLSX shows them as percents); CSV is UTF-8 with a BOM, so a
spreadsheet opens the Cyrillic right, comma-separated with a dot for decimals.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from kopilka.reports.schemas import Report

Kind = Literal["text", "date", "points", "count", "share", "any"]
Cell = str | int | float | date | None
NAMES = (
    "liability",
    "flows",
    "expiring",
    "activity",
    "levels",
    "top_accrued",
    "top_balance",
    "manual",
)


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    title: str
    headers: list[str]
    kinds: list[Kind]
    rows: list[list[Cell]]


def points(kopecks: int) -> Decimal:
    return Decimal(kopecks) / 100


def tables(report: Report, w: Callable[..., str]) -> dict[str, Table]:
    """Every report of ``report`` as a table with headers in the language ``w`` speaks."""
    t: dict[str, Table] = {}
    before = report.range.first - timedelta(days=1)
    owed: list[list[Cell]] = [[before, report.opening, report.opening]]
    owed += [[o.at, o.points, o.points] for o in report.outstanding]
    t["liability"] = Table(
        "liability",
        w("liability"),
        [w("date"), w("points"), w("roubles")],
        ["date", "points", "points"],
        owed,
    )
    flow_rows: list[list[Cell]] = [
        [f.bucket, f.accrued, f.reversed, f.redeemed, f.expired, f.net] for f in report.flows
    ]
    s = report.totals
    flow_rows.append([w("total"), s.accrued, s.reversed, s.redeemed, s.expired, s.net])
    t["flows"] = Table(
        "flows",
        w("flows"),
        [w("period"), w("accrued"), w("reversed"), w("redeemed"), w("expired"), w("net")],
        ["any", "points", "points", "points", "points", "points"],
        flow_rows,
    )
    t["expiring"] = Table(
        "expiring",
        w("expiring"),
        [w("within"), w("points"), w("customers_n")],
        ["text", "points", "count"],
        [[w("days", n=e.days), e.points, e.customers] for e in report.expiring],
    )
    t["activity"] = Table(
        "activity",
        w("activity"),
        [w("figure"), w("value")],
        ["text", "any"],
        [
            [w("active"), report.active],
            [w("redeeming"), report.redeeming],
            [w("breakage"), report.breakage],
        ],
    )
    t["levels"] = Table(
        "levels",
        w("levels"),
        [w("level"), w("customers_n")],
        ["text", "count"],
        [[lv.title or w("below_levels"), lv.customers] for lv in report.levels or []],
    )
    for name, people in (("top_accrued", report.top_accrued), ("top_balance", report.top_balance)):
        t[name] = Table(
            name,
            w(name),
            [w("customer"), "ID", w("points")],
            ["text", "text", "points"],
            [[p.name or p.external_id, p.external_id, p.points] for p in people],
        )
    t["manual"] = Table(
        "manual",
        w("manual"),
        [w("who"), w("reason"), w("grants"), w("points"), w("reversed_since")],
        ["text", "text", "count", "points", "points"],
        [[m.actor, m.title, m.grants, m.points, m.reversed] for m in report.manual],
    )
    return t


def _plain(value: Cell, kind: Kind) -> Cell | Decimal:
    if value is None or isinstance(value, str):
        return value
    if kind == "points" and isinstance(value, int):
        return points(value)
    return value


def to_csv(table: Table) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.headers)
    for row in table.rows:
        writer.writerow([_csv_cell(_plain(v, k)) for v, k in zip(row, table.kinds, strict=True)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _csv_cell(value: Cell | Decimal) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


FORMATS = {"points": "#,##0.00", "date": "yyyy-mm-dd", "count": "0", "share": "0.0%"}


def to_xlsx(table: Table) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = table.name
    sheet.append(table.headers)
    for row in table.rows:
        sheet.append([_plain(v, k) for v, k in zip(row, table.kinds, strict=True)])
        for cell, value, kind in zip(sheet[sheet.max_row], row, table.kinds, strict=True):
            shown: Kind = "share" if isinstance(value, float) else kind
            if isinstance(value, date) and kind == "any":
                shown = "date"
            if shown in FORMATS and not isinstance(value, str):
                cell.number_format = FORMATS[shown]
    for i, header in enumerate(table.headers):
        width = max([len(header)] + [len(str(row[i] or "")) for row in table.rows])
        sheet.column_dimensions[get_column_letter(i + 1)].width = min(max(width + 2, 10), 48)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def file_name(table: Table, first: date, last: date, suffix: str) -> str:
    return f"kopilka-{table.name}-{first.isoformat()}-{last.isoformat()}.{suffix}"


def all_names() -> Sequence[str]:
    return NAMES
