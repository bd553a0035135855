"""Which part of a deal earns points: only product rows from the program's catalog sections."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kopilka.domain.deal import Deal, ProductRow
from kopilka.program.model import Program


@dataclass(frozen=True, slots=True)
class Basket:
    order_amount: int  # what the order costs before paying with points
    eligible_amount: int  # the part of it that earns points
    rows: tuple[dict[str, Any], ...]  # each row with "counted": true/false, for rule_inputs


def basket(program: Program, deal: Deal) -> Basket:
    """Order and eligible amounts; a deal without product rows counts its whole opportunity."""
    if not deal.rows:
        return Basket(deal.opportunity, deal.opportunity, ())
    rows = tuple(
        {
            "name": r.name,
            "section_id": r.section_id,
            "total": r.total,
            "counted": row_counts(program, r),
        }
        for r in deal.rows
    )
    eligible = sum(r.total for r in deal.rows if row_counts(program, r))
    return Basket(sum(r.total for r in deal.rows), eligible, rows)


def row_counts(program: Program, row: ProductRow) -> bool:
    rule = program.eligible_sections
    if rule is None:
        return True
    if row.section_id is None:
        return rule.unknown_section == "count"
    if rule.include is not None:
        return row.section_id in program.section_ids(rule.include)
    return row.section_id not in program.section_ids(rule.exclude or [])
