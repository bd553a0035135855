"""Bad program files: every problem is reported at once, with the file, line and field path."""

import pytest

from kopilka.domain.errors import ProgramError
from kopilka.program import ProgramFileError, parse_program

HEAD = "program: demo\ntitle: Демо\n"


def problems(text: str) -> list[str]:
    with pytest.raises(ProgramFileError) as caught:
        parse_program(text, "x.yaml")
    return str(caught.value).splitlines()


def test_error_is_a_program_error_with_problems() -> None:
    with pytest.raises(ProgramError) as caught:
        parse_program(HEAD + "titel: 1\n", "x.yaml")
    assert isinstance(caught.value, ProgramFileError)
    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.field) == ("x.yaml", 3, "titel")


def test_typo_in_a_key_suggests_the_right_one() -> None:
    text = (
        HEAD
        + "earn:\n  - id: a\n    title: A\n    percent: 5\n  - id: b\n    title: B\n    percnt: 5\n"
    )
    assert problems(text) == ['x.yaml:9: earn[1].percnt: unknown field — did you mean "percent"?']


def test_wrong_type_is_said_in_plain_words() -> None:
    text = HEAD + "pending_days: soon\nearn:\n  - {id: a, title: A, percent: abc}\n"
    assert problems(text) == [
        "x.yaml:3: pending_days: expected a whole number, got 'soon'",
        "x.yaml:5: earn[0].percent: expected a number or 'level', got 'abc'",
    ]


def test_unknown_segment_lists_the_known_ones() -> None:
    text = HEAD + (
        "segments:\n"
        "  retail: {title: розница, when: {contact_type: [CLIENT]}}\n"
        "  wholesale: {title: опт, when: {has_company: true}}\n"
        "earn:\n"
        "  - id: a\n"
        "    title: A\n"
        "    segments: [wholesal]\n"
        "    percent: 8\n"
    )
    assert problems(text) == [
        "x.yaml:9: earn[0].segments[0]: unknown segment 'wholesal' — known: retail, wholesale"
    ]


def test_invalid_cel_expression_names_its_line() -> None:
    text = (
        HEAD
        + "segments:\n  big:\n    title: крупные\n    when:\n      expr: 'deal.opportunity >'\n"
    )
    (line,) = problems(text)
    assert line.startswith("x.yaml:7: segments.big.when.expr: invalid CEL expression")


def test_yaml_syntax_error_names_the_line() -> None:
    text = HEAD + "earn:\n  - id: a\n   title: b\n"
    (line,) = problems(text)
    assert line.startswith("x.yaml:5: YAML syntax error:")


def test_tiers_out_of_order() -> None:
    text = HEAD + (
        "levels:\n"
        "  basis: won_deals\n"
        "  tiers:\n"
        "    - {id: silver, title: S, from: 1, percent: 3}\n"
        "    - {id: gold, title: G, from: 6, percent: 5}\n"
        "    - id: platinum\n"
        "      title: P\n"
        "      from: 3\n"
        "      percent: 7\n"
    )
    assert problems(text) == [
        "x.yaml:10: levels.tiers[2].from: tiers must ascend: 3 is not above the previous "
        "tier's from 6"
    ]


def test_all_problems_of_a_file_at_once_in_file_order() -> None:
    text = HEAD + (
        "timezone: Europe/Mosco\n"
        "points: {rounding: dwn}\n"
        "expiry: {at: end_of_yea}\n"
        "redemption: {max_share: 140}\n"
    )
    lines = problems(text)
    assert [line.split(":")[1] for line in lines] == ["3", "4", "5", "6"]
    assert 'did you mean "down"' in lines[1]
    assert 'did you mean "end_of_year"' in lines[2]
    assert "between 0 and 100" in lines[3]


def test_missing_required_field_points_at_its_block() -> None:
    text = HEAD + "pipelines:\n  retail:\n    title: Розница\n"
    assert problems(text) == ["x.yaml:4: pipelines.retail.id: required field is missing"]


def test_amount_with_three_decimals() -> None:
    text = HEAD + "earn:\n  - {id: a, title: A, fixed: 10.555}\n"
    assert problems(text) == [
        "x.yaml:4: earn[0].fixed: expected an amount in roubles with at most 2 decimals, "
        "got '10.555'"
    ]


def test_unknown_pipeline_in_a_nested_condition() -> None:
    text = HEAD + (
        "pipelines: {retail: {id: 0, title: Р}}\n"
        "segments:\n"
        "  a:\n"
        "    title: A\n"
        "    when:\n"
        "      any:\n"
        "        - has_company: true\n"
        "        - pipeline: [retal]\n"
    )
    assert problems(text) == [
        "x.yaml:10: segments.a.when.any[1].pipeline[0]: unknown pipeline 'retal' — known: retail"
    ]


def test_bad_user_field_code() -> None:
    text = HEAD + "fields: {contact: {balance: uf_balance}}\n"
    (line,) = problems(text)
    assert line.startswith("x.yaml:3: fields.contact.balance: 'uf_balance' is not a Bitrix24")


def test_duplicate_key_is_reported() -> None:
    text = HEAD + "pending_days: 1\npending_days: 2\n"
    assert problems(text) == [
        "x.yaml:4: pending_days: duplicate key: it appears twice in the same block"
    ]


def test_file_that_is_not_a_mapping() -> None:
    assert problems("- a\n- b\n")[0].startswith("x.yaml:1: the file must be a block of keys")
