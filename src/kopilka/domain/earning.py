"""Earning rules applied to one contact of a won deal: one accrual line per matching rule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from kopilka.domain.effects import Accrual, LevelStatus
from kopilka.domain.expiry import available_at, expires_at
from kopilka.domain.explain import percent_text, points_en, points_ru, rub
from kopilka.domain.money import percent_of
from kopilka.domain.segments import Facts, holds
from kopilka.program.rules import EarnRule


@dataclass(frozen=True, slots=True)
class ContactBase:
    """What one contact earns on: its share of the deal's base, plus context for explanations."""

    base: int  # kopecks this contact earns a percent of
    fixed_share: dict[str, int]  # rule id -> this contact's part of a fixed "per deal" amount
    segment: str | None
    level: LevelStatus | None
    inputs: dict[str, Any]  # common rule inputs (amounts, split, eligible rows…)


def accrue(facts: Facts, contact_base: ContactBase, earned_at: datetime) -> list[Accrual]:
    program = facts.program
    lines: list[Accrual] = []
    for rule in program.earn:
        if not _applies(rule, facts, contact_base.segment):
            continue
        amount, percent, label = _amount(rule, facts, contact_base)
        if amount <= 0:
            continue
        inputs = contact_base.inputs | {
            "rule": rule.id,
            "segment": contact_base.segment,
            "percent": _str(percent),
            "fixed": rule.fixed,
            "level": contact_base.level.level_id if contact_base.level else None,
            "condition_errors": list(facts.errors),
        }
        ru, en = _explain(rule, amount, percent, label, contact_base.base)
        pending = rule.pending_days if rule.pending_days is not None else program.pending_days
        policy = rule.expiry if rule.expiry is not None else program.expiry
        lines.append(
            Accrual(
                contact_id=facts.contact.id,
                amount=amount,
                rule_id=rule.id,
                rule_inputs=inputs,
                explanation_ru=ru,
                explanation_en=en,
                available_at=available_at(pending, earned_at),
                expires_at=expires_at(policy, earned_at, program.tz),
            )
        )
    return lines


def _applies(rule: EarnRule, facts: Facts, segment: str | None) -> bool:
    if rule.segments is not None and segment not in rule.segments:
        return False
    allowed = facts.program.pipeline_ids(rule.pipelines)
    if allowed is not None and facts.deal.pipeline_id not in allowed:
        return False
    return rule.when is None or holds(rule.when, facts)


def _amount(
    rule: EarnRule, facts: Facts, cb: ContactBase
) -> tuple[int, Decimal | None, tuple[str, str] | None]:
    program = facts.program
    if rule.fixed is not None:
        amount = rule.fixed if rule.fixed_per == "contact" else cb.fixed_share.get(rule.id, 0)
        return amount, None, None
    label: tuple[str, str] | None
    if rule.percent == "level":
        if cb.level is None or cb.level.level_id is None:
            return 0, None, None
        percent = cb.level.percent
        label = (cb.level.title or cb.level.level_id, cb.level.title or cb.level.level_id)
    else:
        percent = Decimal(rule.percent or 0)
        segment = program.segments.get(cb.segment or "")
        label = (segment.title, cb.segment or "") if segment else None
    amount = percent_of(
        cb.base, percent, rounding=program.points.rounding, step=program.points.step_minor
    )
    return amount, percent, label


def _explain(
    rule: EarnRule, amount: int, percent: Decimal | None, label: tuple[str, str] | None, base: int
) -> tuple[str, str]:
    if percent is None:
        return (f"+{points_ru(amount)}: {rule.title}", f"+{points_en(amount)}: {rule.title}")
    ru_label = f" ({label[0]})" if label else ""
    en_label = f" ({label[1]})" if label else ""
    return (
        f"+{points_ru(amount)}: {percent_text(percent)}{ru_label} от {rub(base)}",
        f"+{points_en(amount)}: {percent_text(percent, locale='en')}{en_label} of {rub(base)}",
    )


def _str(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")
