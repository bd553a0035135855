"""A contact's standing, computed from what Kopilka recorded of its won deals.

``b24_deal_shares`` holds each contact's share of each won deal (kept by the deal sync in the
deal's own transaction). Everything here is an aggregate over it, so a value can always be
recomputed from scratch and written again: the customer's history for levels and discounts
(R-04, R-08) and the yearly totals per pipeline (R-16).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.domain.deal import CustomerHistory
from kopilka.domain.levels import period_start
from kopilka.domain.transfer import totals_years
from kopilka.program.model import Program


@dataclass(frozen=True, slots=True)
class AsOf:
    """Count only deals closed before this one (a deal's level is the level it was won at)."""

    closed_at: datetime
    deal_id: int


async def histories(
    conn: AsyncConnection,
    portal_id: int,
    program: Program,
    contact_ids: Sequence[int],
    *,
    now: datetime,
    exclude_deal: int | None = None,
    as_of: AsOf | None = None,
) -> dict[int, CustomerHistory]:
    """Each contact's won deals and purchases, by pipeline, within the levels' period.

    ``exclude_deal`` leaves out the deal being evaluated (the engine adds it itself);
    ``as_of`` counts only deals closed before it, ordered by (close time, deal id).
    """
    ids = sorted({int(c) for c in contact_ids})
    if not ids:
        return {}
    since = period_start(program.levels, now, program.tz) if program.levels else None
    rows = await conn.execute(
        text(
            "SELECT contact_id, category_id, count(*) AS deals, sum(amount) AS amount "
            "FROM b24_deal_shares "
            "WHERE portal_id = :portal AND contact_id = ANY(:ids) "
            "  AND deal_id <> :exclude "
            "  AND (CAST(:since AS timestamptz) IS NULL OR closed_at >= :since) "
            "  AND (CAST(:at AS timestamptz) IS NULL OR (closed_at, deal_id) < (:at, :at_deal)) "
            "GROUP BY contact_id, category_id"
        ),
        {
            "portal": portal_id,
            "ids": ids,
            "exclude": exclude_deal or 0,
            "since": since,
            "at": as_of.closed_at if as_of else None,
            "at_deal": as_of.deal_id if as_of else 0,
        },
    )
    deals: dict[int, dict[int, int]] = {c: {} for c in ids}
    amounts: dict[int, dict[int, int]] = {c: {} for c in ids}
    for row in rows:
        deals[row.contact_id][int(row.category_id)] = int(row.deals)
        amounts[row.contact_id][int(row.category_id)] = int(row.amount)
    return {
        c: CustomerHistory(
            won_deals=sum(deals[c].values()),
            purchases_total=sum(amounts[c].values()),
            won_deals_by_pipeline=deals[c],
            purchases_by_pipeline=amounts[c],
        )
        for c in ids
    }


async def yearly_totals(
    conn: AsyncConnection,
    portal_id: int,
    program: Program,
    now: datetime,
    contact_ids: Sequence[int] | None = None,
) -> dict[int, dict[str, int]]:
    """contact id -> {field code: kopecks} for every totals rule and covered year (R-16).

    Every field of the covered years is present (0 when nothing was bought), so a value left
    over from a deal since deleted or moved is reset. ``contact_ids=None``: every contact with a
    won deal on record. One statement answers every rule (a list maps each pipeline to its
    rule); field names are made once per rule and year and every contact's zeros are a copy of
    one template — at 20 000 contacts the Python side was two thirds of the time (bench/totals).
    """
    rules = program.transfer.totals
    if not rules:
        return {}
    this_year = now.astimezone(program.tz).year
    names: list[dict[int, str]] = [
        {y: r.field.format(year=y) for y in totals_years(r, this_year)} for r in rules
    ]
    pairs = [
        (n, category)
        for n, rule in enumerate(rules)
        for category in sorted(program.pipeline_ids(rule.pipelines) or ())
    ]
    if contact_ids is None:
        scope = list(
            await conn.scalars(
                text(
                    "SELECT DISTINCT contact_id FROM b24_deal_shares WHERE portal_id = :p "
                    "ORDER BY 1"
                ),
                {"p": portal_id},
            )
        )
    else:
        scope = sorted({int(c) for c in contact_ids})
    template = {name: 0 for by_year in names for name in by_year.values()}
    totals = {int(c): dict(template) for c in scope}
    if not scope or not pairs:
        return totals
    # a share counts in the year of its rule's date field (year_of) when it has one, else in
    # the year it was won; only the years some rule covers are read
    rows = await conn.execute(
        text(
            "SELECT contact_id, rule, year, sum(amount) FROM ("
            "  SELECT s.contact_id, r.rule, s.amount, COALESCE("
            "    CAST(extract(year FROM CAST(s.dates ->> r.year_of AS date)) AS int),"
            "    CAST(extract(year FROM s.closed_at AT TIME ZONE :tz) AS int)) AS year "
            "  FROM b24_deal_shares s "
            "  JOIN unnest(CAST(:rules AS int[]), CAST(:cats AS bigint[]), "
            "              CAST(:year_of AS text[])) AS r(rule, category_id, year_of) "
            "    ON r.category_id = s.category_id "
            "  WHERE s.portal_id = :p "
            "    AND (CAST(:all AS boolean) OR s.contact_id = ANY(:ids)) "
            "    AND (r.year_of <> '' OR (s.closed_at >= make_timestamptz(:y0, 1, 1, 0, 0, 0, :tz) "
            "         AND s.closed_at < make_timestamptz(:y1, 1, 1, 0, 0, 0, :tz)))"
            ") AS t WHERE year >= :y0 AND year < :y1 "
            "GROUP BY 1, 2, 3"
        ),
        {
            "p": portal_id,
            "tz": program.timezone,
            "rules": [n for n, _ in pairs],
            "cats": [c for _, c in pairs],
            "year_of": [rules[n].year_of or "" for n, _ in pairs],
            "all": contact_ids is None,
            "ids": [] if contact_ids is None else scope,
            "y0": this_year - max(r.years_back for r in rules),
            "y1": this_year + 2,
        },
    )
    for contact, rule, year, amount in rows:
        name = names[rule].get(year)
        if name is not None:  # a year this rule does not look back to
            totals[contact][name] += int(amount)
    return totals
