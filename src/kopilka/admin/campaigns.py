"""``/admin/campaigns``: the program's campaigns on a month's calendar (Monday first), each with
its window, scope, effect and budget — how much of it the ledger has given so far."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kopilka.admin.access import admin_session, to_login
from kopilka.admin.pages import env
from kopilka.api.portal import current_program
from kopilka.cabinet.web import render, services_of
from kopilka.domain.campaigns import local_day, windows_in
from kopilka.domain.explain import percent_text
from kopilka.domain.money import format_points
from kopilka.ledger.deals import spent_elsewhere
from kopilka.program.campaigns import Campaign

router = APIRouter(prefix="/admin", include_in_schema=False)

WORDS: dict[str, dict[str, str]] = {
    "ru": {
        "title": "Акции",
        "months": "Январь Февраль Март Апрель Май Июнь Июль Август Сентябрь Октябрь Ноябрь Декабрь",
        "days": "Пн Вт Ср Чт Пт Сб Вс",
        "prev": "← Предыдущий",
        "next": "Следующий →",
        "none": "В программе нет акций.",
        "yearly": "каждый год",
        "window": "Период",
        "scope": "Кому",
        "effect": "Что даёт",
        "budget": "Бюджет",
        "everyone": "всем",
        "segments": "сегменты",
        "pipelines": "направления",
        "sections": "разделы каталога",
        "levels": "уровни",
        "birthday": "день рождения в период акции",
        "condition": "условие",
        "bonus": "бонус",
        "share": "оплата баллами до",
        "spent": "выдано",
        "of": "из",
        "unlimited": "без ограничения",
    },
    "en": {
        "title": "Campaigns",
        "months": "January February March April May June July August September October "
        "November December",
        "days": "Mo Tu We Th Fr Sa Su",
        "prev": "← Previous",
        "next": "Next →",
        "none": "The program has no campaigns.",
        "yearly": "every year",
        "window": "Window",
        "scope": "Who",
        "effect": "Effect",
        "budget": "Budget",
        "everyone": "everyone",
        "segments": "segments",
        "pipelines": "pipelines",
        "sections": "catalog sections",
        "levels": "levels",
        "birthday": "birthday inside the window",
        "condition": "condition",
        "bonus": "bonus",
        "share": "points pay up to",
        "spent": "given",
        "of": "of",
        "unlimited": "no limit",
    },
}


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    inside: bool  # in the month shown
    today: bool
    campaigns: tuple[tuple[int, str], ...]  # (index for its colour, title)


def month_of(text: str, today: date) -> date:
    """The first of the month ``YYYY-MM`` (this month when it is not one)."""
    try:
        year, month = (int(part) for part in text.split("-", 1))
        if 1900 <= year <= 2999:
            return date(year, month, 1)
    except ValueError:
        pass
    return today.replace(day=1)


def grid(campaigns: list[Campaign], first: date, today: date) -> list[list[Day]]:
    """The month's weeks, Monday first, each day with the campaigns on."""
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    start = first - timedelta(days=first.weekday())
    end = last + timedelta(days=6 - last.weekday())
    windows = [(i, c, windows_in(c, start, end)) for i, c in enumerate(campaigns)]
    weeks: list[list[Day]] = []
    day = start
    while day <= end:
        on = tuple((i, c.title) for i, c, spans in windows if any(a <= day <= b for a, b in spans))
        if day.weekday() == 0:
            weeks.append([])
        weeks[-1].append(Day(day, day.month == first.month, day == today, on))
        day += timedelta(days=1)
    return weeks


def describe(
    campaign: Campaign, words: dict[str, str], locale: str, spent: list[tuple[date, int]]
) -> dict[str, Any]:
    """The campaign in words; ``spent``: what each of its windows shown gave so far."""
    if campaign.every_year is not None:
        window = f"{campaign.every_year.from_} — {campaign.every_year.to}, {words['yearly']}"
    else:
        start, end = campaign.once
        window = f"{start:%d.%m.%Y} — {end:%d.%m.%Y}"
    scope = [
        f"{words[key]}: {', '.join(values)}"
        for key, values in (
            ("segments", campaign.segments),
            ("pipelines", campaign.pipelines),
            ("sections", campaign.sections),
            ("levels", campaign.levels),
        )
        if values
    ]
    if campaign.birthday:
        scope.append(words["birthday"])
    if campaign.when is not None:
        scope.append(words["condition"])
    effect = []
    if campaign.multiplier is not None:
        factor = format(campaign.multiplier.normalize(), "f")
        effect.append("×" + (factor.replace(".", ",") if locale == "ru" else factor))
    if campaign.bonus is not None:
        effect.append(f"{words['bonus']} {format_points(campaign.bonus)}")
    if campaign.max_share is not None:
        effect.append(f"{words['share']} {percent_text(campaign.max_share, locale=locale)}")
    budget = words["unlimited"]
    if campaign.budget is not None:
        budget = f"{format_points(campaign.budget)}" + "".join(
            f"; {start:%d.%m.%Y}: {words['spent']} {format_points(given)} {words['of']} "
            f"{format_points(campaign.budget)}"
            for start, given in spent
        )
    return {
        "id": campaign.id,
        "title": campaign.title,
        "window": window,
        "scope": "; ".join(scope) or words["everyone"],
        "effect": ", ".join(effect),
        "budget": budget,
    }


@router.get("/campaigns")
async def campaigns_page(request: Request, month: str = "") -> Response:
    session = await admin_session(request)
    if session is None:
        return to_login()
    services = services_of(request)
    async with services.engine.connect() as conn:
        book, program = await current_program(conn, session.portal_id)
        today = local_day(services.now(), program.tz)
        first = month_of(month[:7], today)
        last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
        shown = {
            c.id: [w[0] for w in windows_in(c, first, last)]
            for c in program.campaigns
            if c.budget is not None
        }
        ids = {c.rule_id(start) for c in program.campaigns for start in shown.get(c.id, [])}
        given = await spent_elsewhere(conn, book, "", ids) if ids else {}
    locale = program.locale
    words = WORDS[locale]
    before = (first - timedelta(days=1)).replace(day=1)
    after = (first + timedelta(days=31)).replace(day=1)
    context = {
        "words": words,
        "month_name": f"{words['months'].split()[first.month - 1]} {first.year}",
        "weekdays": words["days"].split(),
        "weeks": grid(program.campaigns, first, today),
        "prev": f"{before:%Y-%m}",
        "next": f"{after:%Y-%m}",
        "campaigns": [
            describe(
                c, words, locale, [(d, given.get(c.rule_id(d), 0)) for d in shown.get(c.id, [])]
            )
            for c in program.campaigns
        ],
    }
    return render(env, request, "campaigns.html", context)
