"""Manual bonuses (S5): a 500 ₽ review bonus, an apology bonus with a reason, their limits."""

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from kopilka.domain.errors import Conflict
from kopilka.domain.manual import ManualGrantRefused, check_manual_grant, period_start
from kopilka.program import Program
from kopilka.program.policies import GrantPeriod

RUB = 100
MOSCOW = ZoneInfo("Europe/Moscow")


def test_review_bonus_defaults_to_500_and_expires_at_year_end(
    example: Callable[[str], Program], now: datetime
) -> None:
    grant = check_manual_grant(example("travel-club"), "review", None, 0, now)
    assert (grant.amount, grant.title) == (500 * RUB, "Бонус за отзыв")
    assert grant.expires_at == datetime(2025, 12, 31, 21, 0, tzinfo=UTC)


def test_above_the_limit_per_grant(example: Callable[[str], Program], now: datetime) -> None:
    with pytest.raises(ManualGrantRefused, match="max_per_grant") as caught:
        check_manual_grant(example("travel-club"), "apology", 5_000 * RUB, 0, now, comment="да")
    assert isinstance(caught.value, Conflict)
    assert caught.value.code == "manual_grant_refused"


def test_above_the_limit_per_period(example: Callable[[str], Program], now: datetime) -> None:
    program = example("travel-club")  # apology: at most 10 000 ₽ a month
    check_manual_grant(program, "apology", 3_000 * RUB, 7_000 * RUB, now, comment="опоздали")
    with pytest.raises(ManualGrantRefused, match="per month would be exceeded"):
        check_manual_grant(program, "apology", 3_000 * RUB, 7_001 * RUB, now, comment="опоздали")


def test_review_once_a_year(example: Callable[[str], Program], now: datetime) -> None:
    with pytest.raises(ManualGrantRefused, match="per year"):
        check_manual_grant(example("travel-club"), "review", None, 500 * RUB, now)


def test_apology_needs_a_reason(example: Callable[[str], Program], now: datetime) -> None:
    with pytest.raises(ManualGrantRefused, match="comment"):
        check_manual_grant(example("travel-club"), "apology", 1_000 * RUB, 0, now, comment=" ")


def test_unknown_reason_lists_the_known_ones(
    example: Callable[[str], Program], now: datetime
) -> None:
    with pytest.raises(ManualGrantRefused, match="known: review, apology"):
        check_manual_grant(example("travel-club"), "revue", None, 0, now)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("day", datetime(2025, 1, 1, tzinfo=MOSCOW)),
        ("week", datetime(2024, 12, 30, tzinfo=MOSCOW)),
        ("month", datetime(2025, 1, 1, tzinfo=MOSCOW)),
        ("year", datetime(2025, 1, 1, tzinfo=MOSCOW)),
    ],
)
def test_period_start_in_local_time(kind: str, expected: datetime) -> None:
    now = datetime(2024, 12, 31, 21, 30, tzinfo=UTC)  # 00:30 on 1 January 2025 in Moscow
    assert period_start(GrantPeriod(kind=kind), now, MOSCOW) == expected  # type: ignore[arg-type]


def test_rolling_period() -> None:
    now = datetime(2025, 3, 10, 12, tzinfo=UTC)
    assert period_start(GrantPeriod(kind="days", days=7), now, MOSCOW) == datetime(
        2025, 3, 3, 12, tzinfo=UTC
    )
