"""Checks across the program: names that must be defined elsewhere, tiers that must ascend."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from kopilka.program.conditions import Condition
from kopilka.program.mailing import check_mailing
from kopilka.program.model import Program
from kopilka.program.yamlsource import Path

Finding = tuple[Path, str]


def cross_check(program: Program) -> list[Finding]:
    found: list[Finding] = []
    pipelines = list(program.pipelines)
    sections = list(program.catalog_sections)
    segments = list(program.segments)

    def names(path: Path, used: Iterable[str] | None, known: list[str], what: str) -> None:
        for index, name in enumerate(used or ()):
            if name not in known:
                listed = ", ".join(known) if known else f"none — define {what}s first"
                found.append(((*path, index), f"unknown {what} '{name}' — known: {listed}"))

    for alias, segment in program.segments.items():
        _condition(segment.when, ("segments", alias, "when"), pipelines, found)
    if program.default_segment is not None and program.default_segment not in segments:
        found.append(
            (
                ("default_segment",),
                f"unknown segment '{program.default_segment}' — "
                f"known: {', '.join(segments) or 'none'}",
            )
        )
    seen_ids: set[str] = set()
    for i, rule in enumerate(program.earn):
        base: Path = ("earn", i)
        if rule.id in seen_ids:
            found.append(((*base, "id"), f"rule id '{rule.id}' is used twice"))
        seen_ids.add(rule.id)
        names((*base, "segments"), rule.segments, segments, "segment")
        names((*base, "pipelines"), rule.pipelines, pipelines, "pipeline")
        if rule.when is not None:
            _condition(rule.when, (*base, "when"), pipelines, found)
        if rule.percent == "level" and program.levels is None:
            found.append(((*base, "percent"), "percent: level needs a 'levels:' block"))
    if program.levels is not None:
        levels = program.levels
        names(("levels", "pipelines"), levels.pipelines, pipelines, "pipeline")
        whole = levels.basis == "won_deals"
        found += _ascending(("levels", "tiers"), [t.from_ for t in levels.tiers], whole)
    if program.eligible_sections is not None:
        es = program.eligible_sections
        names(("eligible_sections", "include"), es.include, sections, "catalog section")
        names(("eligible_sections", "exclude"), es.exclude, sections, "catalog section")
    names(("redemption", "applies_in"), program.redemption.applies_in, pipelines, "pipeline")
    for i, discount in enumerate(program.discounts):
        base = ("discounts", i)
        names((*base, "pipelines"), discount.pipelines, pipelines, "pipeline")
        names((*base, "applies_in"), discount.applies_in, pipelines, "pipeline")
        if discount.tiers is not None:
            whole = discount.basis == "won_deals"
            found += _ascending((*base, "tiers"), [t.from_ for t in discount.tiers], whole)
        if discount.when_birthday_window and program.birthday is None:
            found.append(((*base, "when_birthday_window"), "needs a 'birthday:' block"))
    for i, total in enumerate(program.transfer.totals):
        names(("transfer", "totals", i, "pipelines"), total.pipelines, pipelines, "pipeline")
    found += _campaigns(program, names)
    if program.split.mode == "share_field" and not program.split.field:
        found.append((("split",), "mode share_field needs 'field'"))
    tiers = [t.id for t in program.levels.tiers] if program.levels else []
    found += check_mailing(program.mailing, segments, tiers)
    return found


def _campaigns(program: Program, names: Callable[..., None]) -> list[Finding]:
    found: list[Finding] = []
    seen: set[str] = set()
    tiers = [t.id for t in program.levels.tiers] if program.levels else []
    for i, campaign in enumerate(program.campaigns):
        base: Path = ("campaigns", i)
        if campaign.id in seen:
            found.append(((*base, "id"), f"campaign id '{campaign.id}' is used twice"))
        seen.add(campaign.id)
        names((*base, "segments"), campaign.segments, list(program.segments), "segment")
        names((*base, "pipelines"), campaign.pipelines, list(program.pipelines), "pipeline")
        names(
            (*base, "sections"),
            campaign.sections,
            list(program.catalog_sections),
            "catalog section",
        )
        names((*base, "levels"), campaign.levels, tiers, "level")
        if campaign.when is not None:
            _condition(campaign.when, (*base, "when"), list(program.pipelines), found)
    return found


def _condition(cond: Condition, path: Path, pipelines: list[str], found: list[Finding]) -> None:
    for index, name in enumerate(cond.pipeline or ()):
        if name not in pipelines:
            found.append(
                (
                    (*path, "pipeline", index),
                    f"unknown pipeline '{name}' — known: {', '.join(pipelines) or 'none'}",
                )
            )
    for key, subs in (("all", cond.all_), ("any", cond.any_)):
        for index, sub in enumerate(subs or ()):
            _condition(sub, (*path, key, index), pipelines, found)
    if cond.not_ is not None:
        _condition(cond.not_, (*path, "not"), pipelines, found)


def _ascending(path: Path, starts: list[Decimal], whole: bool) -> list[Finding]:
    found: list[Finding] = []
    for index, start in enumerate(starts):
        where = (*path, index, "from")
        if start < 0:
            found.append((where, f"must be at least 0, got {start}"))
        elif whole and start != start.to_integral_value():
            found.append((where, f"a number of deals must be whole, got {start}"))
        elif not whole and start != start.quantize(Decimal("0.01")):
            found.append((where, f"an amount may have at most 2 decimals, got {start}"))
        if index and start <= starts[index - 1]:
            found.append(
                (
                    where,
                    f"tiers must ascend: {start} is not above the previous tier's "
                    f"from {starts[index - 1]}",
                )
            )
    return found
