"""What ``kopilka check`` finds in a program that loads but will not work as written.

- A CEL expression with a type error (``program.celcheck``) is an **error**; a file being loaded
  has it refused by ``Condition`` already, with the other shape problems.
- A rule reading a **deal** user field the sync does not read (``fields.read.deal`` and the
  other deal fields of ``program.fieldrefs``) is an **error**: the rule could never see it.
- A rule reading a **contact** user field the program does not name anywhere is a **warning**:
  the sync reads every contact user field, so it works when the field exists, but Kopilka cannot
  tell a misspelt code from a real one until it is listed in ``fields.read.contact``.
- A program in which no earn rule can ever give points is a **warning**; so is a campaign
  part that can change nothing (catalog sections without a multiplier, a multiplier with no
  percent rule).

Errors stop the file loading; warnings are kept on the loaded ``Program`` for ``check`` to show.
A stored program (``loader.parse_program(stored=True)``), accepted before these checks existed,
keeps loading: everything found here is a warning for it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from kopilka.program.celcheck import check_expression, type_error
from kopilka.program.conditions import Condition
from kopilka.program.fieldrefs import (
    contact_fields_mapped,
    deal_fields_read,
    expressions,
    fields_rules_read,
)
from kopilka.program.model import Program
from kopilka.program.rules import EarnRule
from kopilka.program.yamlsource import Path

Severity = Literal["error", "warning"]
Finding = tuple[Path, str, Severity]


def review(program: Program) -> list[Finding]:
    return [
        *_type_errors(program),
        *_unmapped_fields(program),
        *_no_way_to_earn(program),
        *_idle_campaigns(program),
    ]


def _idle_campaigns(program: Program) -> list[Finding]:
    """A campaign part that can change nothing: catalog sections without a multiplier (they
    scope only the multiplier), a multiplier with no percent rule to multiply."""
    found: list[Finding] = []
    percent_rules = any(rule.percent is not None for rule in program.earn)
    for index, campaign in enumerate(program.campaigns):
        if campaign.sections and campaign.multiplier is None:
            found.append(
                (
                    ("campaigns", index, "sections"),
                    "catalog sections scope only a multiplier: this campaign has none, so "
                    "they change nothing — give a multiplier or remove them",
                    "warning",
                )
            )
        if campaign.multiplier is not None and not percent_rules:
            found.append(
                (
                    ("campaigns", index, "multiplier"),
                    "no earn rule gives a percent, so the multiplier never adds a point",
                    "warning",
                )
            )
    return found


def _type_errors(program: Program) -> list[Finding]:
    """CEL type errors (a file being loaded has them refused earlier, by ``Condition``; a stored
    program, ``parse_program(stored=True)``, gets them here, to be kept as warnings)."""
    return [
        (path, type_error(problems), "error")
        for path, text in expressions(program)
        if (problems := check_expression(text).problems)
    ]


def _unmapped_fields(program: Program) -> list[Finding]:
    found: list[Finding] = []
    deal_read, contact_named = deal_fields_read(program), contact_fields_mapped(program)
    for path, entity, code in fields_rules_read(program):
        if entity == "deal" and code not in deal_read:
            found.append(
                (
                    path,
                    f"reads the deal field {code}, which the program does not map, so the sync "
                    "never reads it and the rule never sees it — add it to fields.read.deal",
                    "error",
                )
            )
        elif entity == "contact" and code not in contact_named:
            found.append(
                (
                    path,
                    f"reads the contact field {code}, which the program does not map: a "
                    "misspelt code would silently never match — add it to fields.read.contact",
                    "warning",
                )
            )
    return found


def _no_way_to_earn(program: Program) -> list[Finding]:
    if not program.earn:
        return [(("earn",), "no way to earn: the program has no earn rules", "warning")]
    reasons = [_why_never(program, rule) for rule in program.earn]
    if all(reasons):
        listed = "; ".join(
            f"{rule.id}: {why}" for rule, why in zip(program.earn, reasons, strict=True)
        )
        return [
            (("earn",), f"no way to earn: no earn rule can ever give points ({listed})", "warning")
        ]
    return []


def _why_never(program: Program, rule: EarnRule) -> str | None:
    """Why ``rule`` can never give points, or None when it can."""
    if rule.fixed is not None and rule.fixed <= 0:
        return "a fixed amount of 0"
    if rule.percent == "level":
        if program.levels is None or all(t.percent <= 0 for t in program.levels.tiers):
            return "every level's percent is 0"
    elif isinstance(rule.percent, Decimal) and rule.percent <= 0:
        return "a percent of 0"
    if rule.segments == []:
        return "an empty list of segments"
    if rule.pipelines == []:
        return "an empty list of pipelines"
    if rule.when is not None and _never(rule.when):
        return "a condition that is never true"
    return None


def _never(cond: Condition) -> bool:
    """A condition that cannot hold whatever the deal: an empty list to match, a literal false."""
    if cond.expr is not None and cond.expr.strip() == "false":
        return True
    if cond.contact_type == [] or cond.pipeline == []:
        return True
    if cond.contact_field is not None and not cond.contact_field.in_:
        return True
    if cond.all_ is not None and any(_never(c) for c in cond.all_):
        return True
    return cond.any_ is not None and all(_never(c) for c in cond.any_)
