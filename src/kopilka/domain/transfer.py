"""Section B: product properties copied into deal fields; yearly totals per contact (R-15, R-16)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from kopilka.domain.deal import Deal, ProductRow
from kopilka.domain.split import split_total
from kopilka.program.model import Program
from kopilka.program.transfer import YearlyTotal

_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_RU = re.compile(r"(\d{2})\.(\d{2})\.(\d{4})")


def source_row(program: Program, rows: Sequence[ProductRow]) -> ProductRow | None:
    """The one product row a deal's copies come from, so that a deal never shows the name of
    one trip with the dates of another: the first row (in the deal's order) whose product has
    a value for every property the program copies — a trip before the insurance or transfer
    sold with it, whatever their order — else the first row with a product."""
    with_product = [r for r in rows if r.product_id]
    wanted = [c.from_ for c in program.transfer.product_to_deal if c.from_ not in ("NAME", "PRICE")]
    for row in with_product:
        if all(row.properties.get(source) not in (None, "", []) for source in wanted):
            return row
    return with_product[0] if with_product else None


def date_in(value: Any) -> date | None:
    """The date a field shows: a date, "2027-03-12", "2027-03-12T03:00:00+03:00", "12.03.2027",
    or the first date of a text like "12.03.2027 – 25.03.2027"; of several values, the earliest.
    None when there is none."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, list | tuple):
        found = [d for d in (date_in(v) for v in value) if d is not None]
        return min(found) if found else None
    if value is None:
        return None
    text = str(value)
    iso, ru = _ISO.search(text), _RU.search(text)
    try:
        if iso and (not ru or iso.start() <= ru.start()):
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        if ru:
            return date(int(ru[3]), int(ru[2]), int(ru[1]))
    except ValueError:  # "2027-02-30"
        return None
    return None


def dated_fields(program: Program, deal: Deal) -> dict[str, str]:
    """The deal's dates the totals rules group by (``year_of``), as "YYYY-MM-DD"."""
    out: dict[str, str] = {}
    for rule in program.transfer.totals:
        if rule.year_of:
            day = date_in(deal.fields.get(rule.year_of))
            if day is not None:
                out[rule.year_of] = day.isoformat()
    return out


def totals_years(rule: YearlyTotal, this_year: int) -> range:
    """The years a totals rule fills: ``years_back`` and this one; next year as well for a rule
    by a date of the deal (a trip won this year for the next)."""
    return range(this_year - rule.years_back, this_year + (2 if rule.year_of else 1))


def product_to_deal(program: Program, row: ProductRow) -> dict[str, Any]:
    """Deal field values taken from the product of ``row``, e.g. {"TITLE": "Исландия 2026"}.

    Sources: NAME (the row's name), PRICE (kopecks), CODE and PROPERTY_* (from the product's
    properties, as the connector read them). Missing properties are left out, not blanked.
    """
    values: dict[str, Any] = {}
    for copy in program.transfer.product_to_deal:
        if copy.from_ == "NAME":
            value: Any = row.name
        elif copy.from_ == "PRICE":
            value = row.price
        else:
            value = row.properties.get(copy.from_)
        if value is not None and value != "":
            values[copy.to] = value
    return values


def split_amount(program: Program, deal: Deal) -> dict[int, int]:
    """Each contact's part of the deal's sum (kopecks), by the program's split mode."""
    return split_total(program.split, deal.contacts, deal.opportunity)


def yearly_totals(
    program: Program, deals: Iterable[Deal], now: datetime
) -> dict[int, dict[str, int]]:
    """contact id -> {field code: kopecks} for every totals rule, year and contact.

    Only won deals with a close date count, in the year they were won or, for a rule with
    ``year_of``, the year of that date field; years older than ``years_back`` are left out. Every
    field of the covered years is present (0 when nothing was bought) so that stale values on the
    contact are reset by the daily refresh.
    """
    tz = program.tz
    this_year = now.astimezone(tz).year
    totals: dict[int, dict[str, int]] = {}
    deals = [d for d in deals if d.stage == "won" and d.closed_at is not None]
    for rule in program.transfer.totals:
        ids = program.pipeline_ids(rule.pipelines) or frozenset()
        years = totals_years(rule, this_year)
        for deal in deals:
            for contact in deal.contacts:
                row = totals.setdefault(contact.id, {})
                for year in years:
                    row.setdefault(rule.field.format(year=year), 0)
            if deal.pipeline_id not in ids or deal.closed_at is None:
                continue
            day = date_in(deal.fields.get(rule.year_of)) if rule.year_of else None
            year = day.year if day else deal.closed_at.astimezone(tz).year
            if year not in years:
                continue
            field = rule.field.format(year=year)
            for contact_id, amount in split_amount(program, deal).items():
                totals[contact_id][field] = totals[contact_id].get(field, 0) + amount
    return totals
