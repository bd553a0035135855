"""Levels by number of won deals (S2) and by total purchases (S4), crossing a boundary."""

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from kopilka.domain.deal import Contact, CustomerHistory, Deal
from kopilka.domain.engine import evaluate_deal
from kopilka.domain.levels import period_start, status_for
from kopilka.program import Program

RUB = 100
ANNA = Contact(1, is_primary=True)


@pytest.mark.parametrize(
    ("won_before", "level", "percent", "points"),
    [
        (0, "silver", 3, 300),
        (1, "silver", 3, 300),
        (2, "gold", 5, 500),
        (4, "gold", 5, 500),
        (5, "platinum", 7, 700),
        (20, "platinum", 7, 700),
    ],
)
def test_car_service_percent_follows_won_deals(
    example: Callable[[str], Program],
    now: datetime,
    won_before: int,
    level: str,
    percent: int,
    points: int,
) -> None:
    program = example("car-service")
    deal = Deal(1, 0, "won", 10_000 * RUB, (ANNA,))  # no rows: the whole deal counts
    effects = evaluate_deal(program, deal, {1: CustomerHistory(won_deals=won_before)}, now)
    status = effects.levels[1]
    assert (status.level_id, status.percent, status.metric) == (level, percent, won_before + 1)
    assert effects.accruals[0].amount == points * RUB


def test_status_reports_the_next_level(example: Callable[[str], Program]) -> None:
    levels = example("car-service").levels
    assert levels is not None
    status = status_for(levels, 4)
    assert (
        status.level_id,
        status.next_level_id,
        status.next_threshold,
        status.remaining_to_next,
    ) == ("gold", "platinum", 6, 2)
    below = status_for(levels, 0)
    assert (below.level_id, below.percent, below.next_level_id) == (None, Decimal(0), "silver")


def test_count_current_deal_false_uses_the_level_before(
    program_from: Callable[[str], Program], now: datetime
) -> None:
    program = program_from(
        "levels:\n  basis: won_deals\n  count_current_deal: false\n  tiers:\n"
        "    - {id: s, title: S, from: 0, percent: 3}\n"
        "    - {id: g, title: G, from: 3, percent: 5}\n"
        "earn: [{id: l, title: L, percent: level}]\n"
    )
    effects = evaluate_deal(
        program, Deal(1, 0, "won", 10_000 * RUB, (ANNA,)), {1: CustomerHistory(won_deals=2)}, now
    )
    assert effects.accruals[0].amount == 300 * RUB  # 3 %: the third deal does not count yet
    assert effects.levels[1].level_id == "g"  # but the contact is Gold after it


@pytest.mark.parametrize(
    ("bought_before", "deal_rub", "level", "points"),
    [
        (0, 10_000, "start", 300),
        (40_000, 9_999, "start", 299),
        (40_000, 10_000, "silver", 500),
        (140_000, 10_000, "silver", 500),
        (140_000, 10_001, "gold", 700),
    ],
)
def test_aesthetic_levels_by_total_purchases(
    example: Callable[[str], Program],
    now: datetime,
    bought_before: int,
    deal_rub: int,
    level: str,
    points: int,
) -> None:
    program = example("aesthetic-medicine")
    history = {1: CustomerHistory(won_deals=3, purchases_total=bought_before * RUB)}
    effects = evaluate_deal(program, Deal(1, 0, "won", deal_rub * RUB, (ANNA,)), history, now)
    assert effects.levels[1].level_id == level
    assert effects.accruals[0].amount == points * RUB


def test_levels_count_only_their_pipelines(
    program_from: Callable[[str], Program], now: datetime
) -> None:
    program = program_from(
        "levels:\n  basis: won_deals\n  pipelines: [wholesale]\n  tiers:\n"
        "    - {id: s, title: S, from: 1, percent: 3}\n"
        "    - {id: g, title: G, from: 3, percent: 5}\n"
    )
    history = {1: CustomerHistory(won_deals=10, won_deals_by_pipeline={0: 8, 1: 2})}
    retail = evaluate_deal(program, Deal(1, 0, "won", 100, (ANNA,)), history, now)
    wholesale = evaluate_deal(program, Deal(1, 1, "won", 100, (ANNA,)), history, now)
    assert (retail.levels[1].metric, retail.levels[1].level_id) == (2, "s")
    assert (wholesale.levels[1].metric, wholesale.levels[1].level_id) == (3, "g")


def test_level_period_start(program_from: Callable[[str], Program]) -> None:
    tiers = "  tiers: [{id: s, title: S, from: 1, percent: 3}]\n"
    moscow = ZoneInfo("Europe/Moscow")
    now = datetime(2025, 12, 31, 22, 0, tzinfo=UTC)  # already 1 January in Moscow
    year = program_from("levels:\n  basis: won_deals\n  period: calendar_year\n" + tiers).levels
    days = program_from("levels:\n  basis: won_deals\n  period: {last_days: 30}\n" + tiers).levels
    life = program_from("levels:\n  basis: won_deals\n" + tiers).levels
    assert year is not None
    assert days is not None
    assert life is not None
    assert period_start(year, now, moscow) == datetime(2026, 1, 1, tzinfo=moscow)
    assert period_start(days, now, moscow) == datetime(2025, 12, 3, tzinfo=moscow)
    assert period_start(life, now, moscow) is None
