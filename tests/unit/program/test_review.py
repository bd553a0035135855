"""What ``kopilka check`` finds in a program that parses but will not work (issue 14, item 5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kopilka.bitrix24.sync.read import deal_selects
from kopilka.program import ProgramFileError, load_program, parse_program

HEAD = "program: demo\ntitle: Демо\n"
EARNS = "earn:\n  - {id: base, title: База, percent: 5}\n"


def test_a_rule_reading_an_unmapped_deal_field_is_an_error_with_its_line() -> None:
    text = HEAD + (
        "earn:\n"
        "  - id: site\n"
        "    title: С сайта\n"
        "    when: {expr: \"has(deal.fields.UF_CRM_SOURCE) && deal.fields.UF_CRM_SOURCE == 's'\"}\n"
        "    percent: 5\n"
    )
    with pytest.raises(ProgramFileError) as caught:
        parse_program(text, "x.yaml")
    (problem,) = caught.value.problems
    assert (problem.line, problem.field, problem.severity) == (6, "earn[0].when.expr", "error")
    assert problem.message.startswith("reads the deal field UF_CRM_SOURCE, which the program")
    assert "add it to fields.read.deal" in problem.message


def test_a_deal_field_listed_under_fields_read_is_read_by_the_sync_and_passes() -> None:
    text = HEAD + (
        "earn:\n"
        "  - id: site\n"
        "    title: С сайта\n"
        "    when: {expr: \"has(deal.fields.UF_CRM_SOURCE) && deal.fields.UF_CRM_SOURCE == 's'\"}\n"
        "    percent: 5\n"
        "fields:\n"
        "  read: {deal: [UF_CRM_SOURCE]}\n"
    )
    program = parse_program(text, "x.yaml")
    assert program.warnings == []
    assert "UF_CRM_SOURCE" in deal_selects(program)


def test_a_deal_field_kopilka_reads_anyway_needs_no_listing() -> None:
    text = HEAD + (
        "earn:\n"
        "  - id: paid\n"
        "    title: Без оплаты баллами\n"
        "    when: {expr: \"!has(deal.fields.UF_CRM_PAY) || deal.fields.UF_CRM_PAY == ''\"}\n"
        "    percent: 5\n"
        "fields:\n"
        "  deal: {pay_with_points: UF_CRM_PAY}\n"
    )
    assert parse_program(text, "x.yaml").warnings == []


def test_an_unmapped_contact_field_is_a_warning_that_does_not_stop_loading() -> None:
    text = HEAD + (
        "segments:\n"
        "  gold:\n"
        "    title: золото\n"
        "    when:\n"
        "      any:\n"
        "        - contact_field: {field: UF_CRM_STATUS, in: [gold]}\n"
        '        - expr: "has(contact.fields.UF_CRM_VIP)"\n' + EARNS
    )
    program = parse_program(text, "x.yaml")
    assert [(w.line, w.field, w.severity) for w in program.warnings] == [
        (8, "segments.gold.when.any[0].contact_field.field", "warning"),
        (9, "segments.gold.when.any[1].expr", "warning"),
    ]
    assert "contact field UF_CRM_STATUS" in program.warnings[0].message
    assert "add it to fields.read.contact" in program.warnings[1].message
    assert str(program.warnings[0]).startswith(
        "x.yaml:8: segments.gold.when.any[0].contact_field.field: warning: reads"
    )


@pytest.mark.parametrize(
    "mapping",
    [
        "fields:\n  read: {contact: [UF_CRM_STATUS, UF_CRM_VIP]}\n",
        "fields:\n  contact: {level: UF_CRM_STATUS}\n  read: {contact: [UF_CRM_VIP]}\n",
    ],
)
def test_a_mapped_contact_field_gives_no_warning(mapping: str) -> None:
    text = HEAD + (
        "segments:\n"
        "  gold:\n"
        "    title: золото\n"
        "    when:\n"
        "      all:\n"
        "        - contact_field: {field: UF_CRM_STATUS, in: [gold]}\n"
        '        - expr: "has(contact.fields.UF_CRM_VIP)"\n' + EARNS + mapping
    )
    assert parse_program(text, "x.yaml").warnings == []


@pytest.mark.parametrize(
    ("earn", "why"),
    [
        ("", "the program has no earn rules"),
        ("earn:\n  - {id: a, title: A, percent: 0}\n", "a: a percent of 0"),
        ("earn:\n  - {id: a, title: A, fixed: 0}\n", "a: a fixed amount of 0"),
        ("earn:\n  - {id: a, title: A, percent: 5, pipelines: []}\n", "an empty list of pipelines"),
        (
            "earn:\n  - {id: a, title: A, percent: 5, when: {expr: 'false'}}\n"
            "  - {id: b, title: B, percent: 5, when: {any: []}}\n",
            "a: a condition that is never true; b: a condition that is never true",
        ),
        (
            "levels:\n  basis: won_deals\n  tiers: [{id: s, title: S, from: 1, percent: 0}]\n"
            "earn:\n  - {id: a, title: A, percent: level}\n",
            "a: every level's percent is 0",
        ),
    ],
)
def test_a_program_with_no_way_to_earn_is_warned_about(earn: str, why: str) -> None:
    program = parse_program(HEAD + earn, "x.yaml")
    (warning,) = program.warnings
    assert (warning.field, warning.severity) == ("earn", "warning")
    assert warning.message.startswith("no way to earn")
    assert why in warning.message


def test_one_rule_that_can_earn_is_enough() -> None:
    text = HEAD + "earn:\n  - {id: a, title: A, percent: 0}\n  - {id: b, title: B, fixed: 100}\n"
    assert parse_program(text, "x.yaml").warnings == []


EXAMPLES = sorted((Path(__file__).parents[3] / "examples").glob("*.yaml"))


def test_the_examples_are_all_there() -> None:
    shipped = {"retail-wholesale", "car-service", "car-service-status", "travel-club"}
    assert shipped | {"aesthetic-medicine"} <= {p.stem for p in EXAMPLES}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_passes_check_without_a_warning(path: Path) -> None:
    assert [str(w) for w in load_program(path).warnings] == []


STORED = HEAD + (
    "segments:\n"
    '  big: {title: крупные, when: {expr: "deal.opportunity == 15000"}}\n'
    "earn:\n"
    "  - id: site\n"
    "    title: С сайта\n"
    '    when: {expr: "has(deal.fields.UF_CRM_SOURCE)"}\n'
    "    percent: 5\n"
)


def test_a_stored_program_accepted_before_these_checks_keeps_loading_with_warnings() -> None:
    with pytest.raises(ProgramFileError, match=r"CEL type error: deal\.opportunity == 15000"):
        parse_program(STORED, "x.yaml")
    program = parse_program(STORED, "x.yaml", stored=True)  # deals were priced by it
    assert [(w.line, w.field, w.severity) for w in program.warnings] == [
        (4, "segments.big.when.expr", "warning"),
        (8, "earn[0].when.expr", "warning"),
    ]
    assert program.warnings[0].message.startswith("CEL type error: deal.opportunity == 15000")
    assert "reads the deal field UF_CRM_SOURCE" in program.warnings[1].message


def test_a_stored_program_with_a_real_error_is_still_refused() -> None:
    with pytest.raises(ProgramFileError, match="invalid CEL expression"):
        parse_program(HEAD + "segments:\n  a: {title: A, when: {expr: 'deal.id >'}}\n", "x.yaml",
                      stored=True)  # fmt: skip
