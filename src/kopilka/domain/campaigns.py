"""Campaigns applied to a deal: which are on at a moment, whom they reach, what they add.

Pure. A campaign's points are an accrual line of their own (``rule_id``
``campaign:<id>:<first day of the window>``), so the timeline explains them («×2 по акции
«Чёрная пятница»») and a window's budget is the sum of those lines in the ledger
(:func:`fit_budgets`, given what the rest of the portal already got).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from kopilka.domain.birthday import birthday_in
from kopilka.domain.deal import Contact, CustomerHistory, Deal
from kopilka.domain.effects import Accrual
from kopilka.domain.eligibility import row_counts
from kopilka.domain.expiry import available_at, expires_at
from kopilka.domain.money import percent_of
from kopilka.domain.segments import Facts, holds, resolve_segment
from kopilka.domain.texts import points, say
from kopilka.program.campaigns import Campaign
from kopilka.program.model import Program

Window = tuple[date, date]


def window_of(campaign: Campaign, day: date) -> Window | None:
    """The campaign's window (first and last day) that holds ``day``, or None."""
    if campaign.every_year is None:
        first_day, last_day = campaign.once
        return (first_day, last_day) if first_day <= day <= last_day else None
    first, last = campaign.every_year.from_, campaign.every_year.to
    for year in (day.year - 1, day.year):
        start = _day(year, first)
        end = _day(year if last >= first else year + 1, last)
        if start <= day <= end:
            return start, end
    return None


def windows_in(campaign: Campaign, first: date, last: date) -> list[Window]:
    """The campaign's windows that meet the days ``first``..``last`` (for a calendar)."""
    if campaign.every_year is None:
        start, end = campaign.once
        return [(start, end)] if start <= last and end >= first else []
    found = []
    for year in range(first.year - 1, last.year + 1):
        start = _day(year, campaign.every_year.from_)
        end_year = year if campaign.every_year.to >= campaign.every_year.from_ else year + 1
        end = _day(end_year, campaign.every_year.to)
        if start <= last and end >= first:
            found.append((start, end))
    return found


def local_day(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()


def reaches(campaign: Campaign, facts: Facts, segment: str | None, level: str | None) -> bool:
    """Whether the campaign's scope holds for this contact of this deal (sections aside: they
    narrow the amount, not the contact)."""
    program = facts.program
    if campaign.segments is not None and segment not in campaign.segments:
        return False
    allowed = program.pipeline_ids(campaign.pipelines)
    if allowed is not None and facts.deal.pipeline_id not in allowed:
        return False
    if campaign.levels is not None and level not in campaign.levels:
        return False
    return campaign.when is None or holds(campaign.when, facts)


def _birthday_inside(contact: Contact, window: Window) -> bool:
    if contact.birthdate is None:
        return False
    years = range(window[0].year, window[1].year + 1)
    return any(window[0] <= birthday_in(y, contact.birthdate) <= window[1] for y in years)


def on_for(
    program: Program, facts: Facts, segment: str | None, level: str | None, at: datetime
) -> list[tuple[Campaign, Window]]:
    """The campaigns on at ``at`` (the program's local day) that reach this contact."""
    day = local_day(at, program.tz)
    out = []
    for campaign in program.campaigns:
        window = window_of(campaign, day)
        if window is None or not reaches(campaign, facts, segment, level):
            continue
        if campaign.birthday and not _birthday_inside(facts.contact, window):
            continue
        out.append((campaign, window))
    return out


def payable_share(
    program: Program, facts: Facts, segment: str | None, level: str | None, at: datetime
) -> Decimal | None:
    """The share of an order points may pay by the first campaign on that sets one."""
    for campaign, _ in on_for(program, facts, segment, level, at):
        if campaign.max_share is not None:
            return campaign.max_share
    return None


def share_for(
    program: Program,
    deal: Deal,
    payer: Contact,
    history: CustomerHistory,
    level: str | None,
    now: datetime,
) -> Decimal | None:
    """The share of the order a campaign lets points pay on ``deal`` (None: no campaign sets
    one): judged at the win for a won deal, ``now`` for an open one. Whatever shows a deal's
    payable cap uses it over the level's ``payable_share``, as the engine does."""
    if not program.campaigns:
        return None
    facts = Facts(program, deal, payer, history)
    at = deal.closed_at if deal.stage == "won" and deal.closed_at else now
    return payable_share(program, facts, resolve_segment(facts), level, at)


def contact_share(
    program: Program, deal: Deal, contact: Contact, history: CustomerHistory, now: datetime
) -> Decimal:
    """The share of a contact's part of the order the contact may pay with points on a
    per-contact offer: a campaign's (judged without levels), else the program's."""
    found = share_for(program, deal, contact, history, None, now)
    return found if found is not None else program.redemption.max_share


def campaign_lines(
    facts: Facts,
    base: int,
    earned: Iterable[Accrual],
    inputs: Mapping[str, Any],
    segment: str | None,
    level: str | None,
    at: datetime,
) -> list[Accrual]:
    """What the campaigns on at ``at`` add for one contact of a won deal: one line each, the
    multiplier's extra on every percent rule (on the campaign's sections' part of ``base``)
    plus the fixed bonus."""
    program = facts.program
    percents = [Decimal(a.rule_inputs["percent"]) for a in earned if a.rule_inputs.get("percent")]
    lines = []
    for campaign, window in on_for(program, facts, segment, level, at):
        scoped = _scoped(program, campaign, facts, base)
        extra = 0
        if campaign.multiplier is not None:
            step = program.points.step_minor
            factor = campaign.multiplier - 1
            extra = sum(
                percent_of(scoped, p * factor, rounding=program.points.rounding, step=step)
                for p in percents
            )
        amount = extra + (campaign.bonus or 0)
        if amount <= 0:
            continue
        ru, en = explain(campaign, amount, bool(extra))
        lines.append(
            Accrual(
                contact_id=facts.contact.id,
                amount=amount,
                rule_id=campaign.rule_id(window[0]),
                rule_inputs=dict(inputs)
                | {
                    "rule": campaign.rule_id(window[0]),
                    "segment": segment,
                    "level": level,
                    "campaign": campaign.id,
                    "title": campaign.title,
                    "window": [window[0].isoformat(), window[1].isoformat()],
                    "multiplier": _str(campaign.multiplier),
                    "multiplied_base": scoped,
                    "multiplied": extra,
                    "bonus": campaign.bonus,
                    "budget": campaign.budget,
                    "wanted": amount,
                },
                explanation_ru=ru,
                explanation_en=en,
                available_at=available_at(program.pending_days, at),
                expires_at=expires_at(program.expiry, at, program.tz),
            )
        )
    return lines


def _scoped(program: Program, campaign: Campaign, facts: Facts, base: int) -> int:
    """The part of ``base`` the multiplier applies to: all of it, or its campaign sections'."""
    if campaign.sections is None:
        return base
    rows = [r for r in facts.deal.rows if row_counts(program, r)]
    eligible = sum(r.total for r in rows)
    wanted = program.section_ids(campaign.sections)
    inside = sum(r.total for r in rows if r.section_id in wanted)
    return base * inside // eligible if eligible else 0


def explain(campaign: Campaign, amount: int, multiplied: bool) -> tuple[str, str]:
    """«+500 бонусов: ×2 по акции «Чёрная пятница»» and its English."""
    key = "reason.campaign_bonus"
    if multiplied:
        key = "reason.campaign_both" if campaign.bonus else "reason.campaign_x"
    factor = _str(campaign.multiplier) or ""
    out = []
    for locale in ("ru", "en"):
        shown = factor.replace(".", ",") if locale == "ru" else factor
        values = {"title": campaign.title, "factor": shown}
        out.append(say(locale, key, points=points(locale, amount), **values))
    return out[0], out[1]


def fit_budgets(
    program: Program, accruals: Iterable[Accrual], spent: Mapping[str, int]
) -> tuple[list[Accrual], dict[str, int]]:
    """The accruals with each budgeted campaign's lines cut to what its window's budget has left
    after ``spent`` (rule id -> points already given, elsewhere): a line gets what fits, a line
    when nothing is left is dropped. Returns them and ``spent`` with them added."""
    by_id = {c.id: c for c in program.campaigns}
    total = dict(spent)
    out = []
    for accrual in accruals:
        campaign = by_id.get(str(accrual.rule_inputs.get("campaign", "")))
        if (
            campaign is None
            or campaign.budget is None
            or not accrual.rule_id.startswith("campaign:")
        ):
            out.append(accrual)
            continue
        rule = accrual.rule_id
        fits = max(min(accrual.amount, campaign.budget - total.get(rule, 0)), 0)
        total[rule] = total.get(rule, 0) + fits
        if fits == accrual.amount:
            out.append(accrual)
        elif fits > 0:
            ru, en = explain(campaign, fits, bool(accrual.rule_inputs.get("multiplied")))
            inputs = accrual.rule_inputs | {"budget_cut": accrual.amount - fits}
            out.append(
                replace(
                    accrual, amount=fits, rule_inputs=inputs, explanation_ru=ru, explanation_en=en
                )
            )
    return out, total


def _day(year: int, month_day: str) -> date:
    return date(year, int(month_day[:2]), int(month_day[3:]))


def _str(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")
