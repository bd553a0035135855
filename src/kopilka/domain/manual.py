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
    """A manual bonus that is not allowed: unknown reason, a limit exceeded, a comment missing.

    Besides the message, it says which rule refused (``rule``: ``unknown``, ``amount``,
    ``comment``, ``per_grant``, ``per_period`` — the program's limits — or ``quota``, the
    granting person's own limit) with the numbers, so a page can say it in its own words.
    """

    code = "manual_grant_refused"

    def __init__(
        self,
        message: str,
        *,
        rule: str = "",
        title: str = "",
        limit: int | None = None,
        left: int | None = None,
        period: GrantPeriod | None = None,
    ) -> None:
        super().__init__(message)
        self.rule = rule
        self.title = title
        self.limit = limit
        self.left = left
        self.period = period


@dataclass(frozen=True, slots=True)
class GranterLimit:
    """How much one person may grant per period in all reasons together (R-11: "who may grant
    how much"); ``label`` names where it comes from (``user:2``, ``role:manager``)."""

    max_total: int  # kopecks of points; 0: may not grant
    period: GrantPeriod
    label: str


@dataclass(frozen=True, slots=True)
class Granter:
    """The person a manual grant is counted against: ``id`` is stable (``b24:user:2``), the
    ledger records it with the grant; ``limit`` None means no limit of their own."""

    id: str
    limit: GranterLimit | None = None


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
        raise ManualGrantRefused(
            f"unknown bonus reason '{reason}' — known: {known}", rule="unknown", title=reason
        )
    title = bonus.title
    if amount is None:
        if bonus.default_amount is None:
            raise ManualGrantRefused(
                f"«{title}»: give an amount, there is no default", rule="amount", title=title
            )
        amount = bonus.default_amount
    if amount <= 0:
        raise ManualGrantRefused(
            f"«{title}»: the amount must be positive", rule="amount", title=title
        )
    if bonus.comment_required and not (comment or "").strip():
        raise ManualGrantRefused(
            f"«{title}»: a comment with the reason is required", rule="comment", title=title
        )
    if amount > bonus.max_per_grant:
        raise ManualGrantRefused(
            f"«{title}»: {points_ru(amount)} is above the limit of "
            f"{points_ru(bonus.max_per_grant)} per grant (max_per_grant)",
            rule="per_grant",
            title=title,
            limit=bonus.max_per_grant,
            left=bonus.max_per_grant,
        )
    limit = bonus.per_period
    if limit is not None and granted_in_current_period + amount > limit.max_total:
        left = max(limit.max_total - granted_in_current_period, 0)
        raise ManualGrantRefused(
            f"«{title}»: the limit of {points_ru(limit.max_total)} per "
            f"{_period_word(limit.period)} would be exceeded; {points_ru(left)} left",
            rule="per_period",
            title=title,
            limit=limit.max_total,
            left=left,
            period=limit.period,
        )
    policy = bonus.expiry if bonus.expiry is not None else program.expiry
    return ManualGrant(reason, bonus.title, amount, expires_at(policy, now, program.tz), comment)


def check_granter(granter: Granter, granted_before: int, amount: int) -> None:
    """Refuse a grant that would take ``granter`` over their own limit for the period
    (``granted_before``: what they granted since the period began, reversed grants excluded)."""
    limit = granter.limit
    if limit is None or granted_before + amount <= limit.max_total:
        return
    left = max(limit.max_total - granted_before, 0)
    raise ManualGrantRefused(
        f"{granter.id} may grant {points_ru(limit.max_total)} per {_period_word(limit.period)} "
        f"({limit.label}); {points_ru(left)} left",
        rule="quota",
        limit=limit.max_total,
        left=left,
        period=limit.period,
    )


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
