"""Manual bonuses (a review, an apology…): limits per grant and per period, checked before posting.

The caller counts what was already granted for the reason in the current period (from
``period_start``) and records who granted and why with the ledger entry (R-11).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from kopilka.domain.errors import Conflict
from kopilka.domain.expiry import expires_at
from kopilka.domain.explain import points_ru
from kopilka.program.model import Program
from kopilka.program.policies import GrantPeriod


class ManualGrantRefused(Conflict):
    """A manual bonus that the program does not allow: unknown reason or a limit exceeded."""

    code = "manual_grant_refused"


@dataclass(frozen=True, slots=True)
class ManualGrant:
    reason: str
    title: str
    amount: int  # kopecks of points
    expires_at: datetime | None
    comment: str | None


def check_manual_grant(
    program: Program,
    reason: str,
    amount: int | None,
    granted_in_current_period: int,
    now: datetime,
    *,
    comment: str | None = None,
) -> ManualGrant:
    """The grant to post, or ``ManualGrantRefused`` naming the limit it would break.

    ``amount`` None takes the reason's ``default_amount``.
    """
    bonus = program.manual_bonuses.get(reason)
    if bonus is None:
        known = ", ".join(program.manual_bonuses) or "none"
        raise ManualGrantRefused(f"unknown bonus reason '{reason}' — known: {known}")
    if amount is None:
        if bonus.default_amount is None:
            raise ManualGrantRefused(f"«{bonus.title}»: give an amount, there is no default")
        amount = bonus.default_amount
    if amount <= 0:
        raise ManualGrantRefused(f"«{bonus.title}»: the amount must be positive")
    if bonus.comment_required and not (comment or "").strip():
        raise ManualGrantRefused(f"«{bonus.title}»: a comment with the reason is required")
    if amount > bonus.max_per_grant:
        raise ManualGrantRefused(
            f"«{bonus.title}»: {points_ru(amount)} is above the limit of "
            f"{points_ru(bonus.max_per_grant)} per grant (max_per_grant)"
        )
    limit = bonus.per_period
    if limit is not None and granted_in_current_period + amount > limit.max_total:
        left = max(limit.max_total - granted_in_current_period, 0)
        raise ManualGrantRefused(
            f"«{bonus.title}»: the limit of {points_ru(limit.max_total)} per "
            f"{_period_word(limit.period)} would be exceeded; {points_ru(left)} left"
        )
    policy = bonus.expiry if bonus.expiry is not None else program.expiry
    return ManualGrant(reason, bonus.title, amount, expires_at(policy, now, program.tz), comment)


def period_start(period: GrantPeriod, now: datetime, tz: tzinfo) -> datetime:
    """Where the current period began, in the program's time zone (weeks start on Monday)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local = now.astimezone(tz)
    today = local.date()
    if period.kind == "days":
        return now - timedelta(days=period.days or 0)
    start: date = {
        "day": today,
        "week": today - timedelta(days=today.weekday()),
        "month": today.replace(day=1),
        "year": today.replace(month=1, day=1),
    }[period.kind]
    return datetime(start.year, start.month, start.day, tzinfo=tz)


def _period_word(period: GrantPeriod) -> str:
    return f"{period.days} days" if period.kind == "days" else period.kind
