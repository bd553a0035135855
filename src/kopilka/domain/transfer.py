"""Section B: product properties copied into deal fields; yearly totals per contact (R-15, R-16)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from kopilka.domain.deal import Deal, ProductRow
from kopilka.domain.split import split_total
from kopilka.program.model import Program


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

    Only won deals with a close date count; years older than ``years_back`` are left out. Every
    field of the covered years is present (0 when nothing was bought) so that stale values on the
    contact are reset by the daily refresh.
    """
    tz = program.tz
    this_year = now.astimezone(tz).year
    totals: dict[int, dict[str, int]] = {}
    deals = [d for d in deals if d.stage == "won" and d.closed_at is not None]
    for rule in program.transfer.totals:
        ids = program.pipeline_ids(rule.pipelines) or frozenset()
        years = range(this_year - rule.years_back, this_year + 1)
        for deal in deals:
            for contact in deal.contacts:
                row = totals.setdefault(contact.id, {})
                for year in years:
                    row.setdefault(rule.field.format(year=year), 0)
            if deal.pipeline_id not in ids or deal.closed_at is None:
                continue
            year = deal.closed_at.astimezone(tz).year
            if year not in years:
                continue
            field = rule.field.format(year=year)
            for contact_id, amount in split_amount(program, deal).items():
                totals[contact_id][field] = totals[contact_id].get(field, 0) + amount
    return totals
