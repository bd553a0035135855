"""The report page's pictures and labels: periods named in the reader's language, and each
report's chart (``charts``) with a description that says its numbers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from markupsafe import Markup

from kopilka.domain.money import format_points
from kopilka.reports import charts
from kopilka.reports.schemas import Report
from kopilka.reports.words import MONTHS


def period_label(day: date, unit: str, lang: str) -> str:
    if unit == "month":
        return f"{MONTHS[lang][day.month - 1]} {day.year}"
    return f"{day:%d.%m}" if lang == "ru" else f"{day.day} {MONTHS['en'][day.month - 1]}"


def pictures(report: Report, w: Callable[..., str], lang: str) -> dict[str, Markup]:
    unit = report.range.unit
    labels = [period_label(f.bucket, unit, lang) for f in report.flows]
    values = [o.points for o in report.outstanding]
    out = {
        "liability": charts.line(
            w("liability"),
            f"{w('opening')}: {format_points(report.opening)}; "
            f"{w('closing')}: {format_points(report.closing)}. {w('liability_desc')}",
            labels,
            values,
        )
    }
    kinds = ("accrued", "reversed", "redeemed", "expired")
    total = report.totals
    out["flows"] = charts.bars(
        w("flows"),
        "; ".join(f"{w(k)}: {format_points(getattr(total, k))}" for k in kinds),
        labels,
        [(k, w(k), [getattr(f, k) for f in report.flows]) for k in kinds],
    )
    out["expiring"] = charts.hbars(
        w("expiring"),
        "; ".join(f"{w('days', n=e.days)}: {format_points(e.points)}" for e in report.expiring),
        [(w("days", n=e.days), e.points, format_points(e.points)) for e in report.expiring],
        color=charts.COLORS["expired"],
    )
    if report.levels is not None:
        items = [(lv.title or w("below_levels"), lv.customers) for lv in report.levels]
        out["levels"] = charts.hbars(
            w("levels"),
            "; ".join(f"{name}: {n}" for name, n in items),
            [(name, n, str(n)) for name, n in items],
            color=charts.COLORS["redeemed"],
        )
    return out
