"""Which user fields a program knows: those the sync reads, those rules read, those it maps.

``bitrix24.sync.read`` selects a deal's user fields from ``deal_fields_read`` (and every contact
user field, ``UF_*``); ``program.review`` holds the fields that rules read against the same sets,
so ``kopilka check`` and the sync cannot disagree about what a rule will see.
"""

from __future__ import annotations

from collections.abc import Iterator

from kopilka.program.celcheck import check_expression
from kopilka.program.conditions import Condition
from kopilka.program.model import Program
from kopilka.program.yamlsource import Path

FieldRead = tuple[Path, str, str]  # (where in the file, "deal" | "contact", field code)


def deal_fields_read(program: Program) -> set[str]:
    """The deal user fields the sync reads: the points to pay and those Kopilka fills, the data
    transfer's targets (to compare before writing), the dates yearly totals go by, and those
    listed in ``fields.read.deal``."""
    wanted = {v for v in program.fields.deal.model_dump().values() if v}  # what Kopilka fills
    wanted |= set(program.fields.read.deal)
    wanted |= {c.to for c in program.transfer.product_to_deal if c.to.startswith("UF_")}
    wanted |= {rule.year_of for rule in program.transfer.totals}
    return {w for w in wanted if w}


def contact_fields_mapped(program: Program) -> set[str]:
    """The contact user fields the program names anywhere: written, flagged, listed as read."""
    named = {v for v in program.fields.contact.model_dump().values() if v}
    named |= set(program.fields.read.contact)
    named |= {d.field for d in program.discounts if d.field}
    named |= {f for f in (program.cards.required if program.cards else ()) if f.startswith("UF_")}
    if program.birthday is not None and program.birthday.flag_field:
        named.add(program.birthday.flag_field)
    if program.notifications.opt_out_field:
        named.add(program.notifications.opt_out_field)
    if program.split.field:
        named.add(program.split.field)
    return named


def fields_rules_read(program: Program) -> Iterator[FieldRead]:
    """Every user field a segment's or an earn rule's condition reads, with its place."""
    for path, cond in conditions(program):
        if cond.contact_field is not None:
            yield (*path, "contact_field", "field"), "contact", cond.contact_field.field
        if cond.expr is not None:
            for entity, code in check_expression(cond.expr).reads:
                yield (*path, "expr"), entity, code


def expressions(program: Program) -> Iterator[tuple[Path, str]]:
    """Every CEL expression of the program, with the place of its ``expr`` key."""
    for path, cond in conditions(program):
        if cond.expr is not None:
            yield (*path, "expr"), cond.expr


def conditions(program: Program) -> Iterator[tuple[Path, Condition]]:
    """Every condition of the program — segments', earn rules' and campaigns', nested ones
    too — in order."""
    for alias, segment in program.segments.items():
        yield from _nested(segment.when, ("segments", alias, "when"))
    for index, rule in enumerate(program.earn):
        if rule.when is not None:
            yield from _nested(rule.when, ("earn", index, "when"))
    for index, campaign in enumerate(program.campaigns):
        if campaign.when is not None:
            yield from _nested(campaign.when, ("campaigns", index, "when"))


def _nested(cond: Condition, path: Path) -> Iterator[tuple[Path, Condition]]:
    yield path, cond
    for key, subs in (("all", cond.all_), ("any", cond.any_)):
        for index, sub in enumerate(subs or ()):
            yield from _nested(sub, (*path, key, index))
    if cond.not_ is not None:
        yield from _nested(cond.not_, (*path, "not"))
