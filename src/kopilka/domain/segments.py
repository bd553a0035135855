"""Conditions and segments: which rules apply to a contact of a deal.

A CEL expression that fails at run time counts as "false"; its message is collected in
``Facts.errors`` so that the engine can show it next to the rule it affected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kopilka.domain.deal import Contact, CustomerHistory, Deal
from kopilka.domain.money import MINOR_PER_UNIT
from kopilka.program.cel import ExpressionError, evaluate_expression
from kopilka.program.conditions import Condition
from kopilka.program.model import Program


@dataclass
class Facts:
    """What a condition may look at, for one contact of one deal."""

    program: Program
    deal: Deal
    contact: Contact
    history: CustomerHistory
    errors: list[str] = field(default_factory=list)

    def cel_variables(self) -> dict[str, Any]:
        deal, contact = self.deal, self.contact
        return {
            "deal": {
                "id": deal.id,
                "pipeline": self.program.pipeline_alias(deal.pipeline_id) or "",
                "pipeline_id": deal.pipeline_id,
                "opportunity": deal.opportunity / MINOR_PER_UNIT,
                "company_id": deal.company_id or 0,
                "has_company": deal.company_id is not None,
                "fields": dict(deal.fields),
            },
            "contact": {
                "id": contact.id,
                "type": contact.type_id or "",
                "fields": dict(contact.fields),
            },
            "history": {
                "won_deals": self.history.won_deals,
                "purchases_total": self.history.purchases_total / MINOR_PER_UNIT,
            },
        }


def holds(cond: Condition, facts: Facts) -> bool:
    """True when every key present in ``cond`` holds."""
    if cond.contact_type is not None and (facts.contact.type_id or "") not in cond.contact_type:
        return False
    if cond.contact_field is not None and not _field_in(
        facts.contact.fields.get(cond.contact_field.field), cond.contact_field.in_
    ):
        return False
    if cond.pipeline is not None:
        ids = facts.program.pipeline_ids(cond.pipeline) or frozenset()
        if facts.deal.pipeline_id not in ids:
            return False
    if cond.has_company is not None and (facts.deal.company_id is not None) != cond.has_company:
        return False
    if cond.all_ is not None and not all(holds(c, facts) for c in cond.all_):
        return False
    if cond.any_ is not None and not any(holds(c, facts) for c in cond.any_):
        return False
    if cond.not_ is not None and holds(cond.not_, facts):
        return False
    return cond.expr is None or _expression(cond.expr, facts)


def resolve_segment(facts: Facts) -> str | None:
    """The first segment whose condition holds, else the program's default segment."""
    for alias, segment in facts.program.segments.items():
        if holds(segment.when, facts):
            return alias
    return facts.program.default_segment


def _field_in(value: Any, allowed: list[str]) -> bool:
    values = value if isinstance(value, list | tuple) else [value]
    return any(v is not None and str(v) in allowed for v in values)


def _expression(text: str, facts: Facts) -> bool:
    try:
        return evaluate_expression(text, facts.cel_variables())
    except ExpressionError as exc:
        facts.errors.append(str(exc))
        return False
