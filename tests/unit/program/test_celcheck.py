"""CEL expressions are type-checked against the variables the engine gives (issue 14, item 5)."""

from __future__ import annotations

import itertools

import celpy
import pytest
from celpy.adapter import json_to_cel

from kopilka.domain.deal import Contact, CustomerHistory, Deal
from kopilka.domain.segments import Facts
from kopilka.program import ProgramFileError, parse_program
from kopilka.program.celcheck import check_expression
from kopilka.program.celtypes import VARIABLES

HEAD = "program: demo\ntitle: Демо\n"
_ENV = celpy.Environment()


def problems(text: str) -> tuple[str, ...]:
    return check_expression(text).problems


# -- the declaration is what the engine passes ------------------------------------------------

_CEL_KIND = {
    celpy.celtypes.IntType: "int",
    celpy.celtypes.DoubleType: "double",
    celpy.celtypes.StringType: "string",
    celpy.celtypes.BoolType: "bool",
    celpy.celtypes.MapType: "map",
}


def _facts() -> Facts:
    fields = {"UF_CRM_VIP": "Y", "UF_CRM_AGE": "30", "UF_CRM_CLASS": ["44", "45"]}
    contact = Contact(id=7, type_id="CLIENT", fields=fields, is_primary=True)
    deal = Deal(
        id=3,
        pipeline_id=0,
        stage="won",
        opportunity=1_234_50,
        contacts=(contact,),
        company_id=None,
        fields={"UF_CRM_SOURCE": "site"},
    )
    program = parse_program(HEAD + "pipelines: {retail: {id: 0, title: R}}\n", "x.yaml")
    return Facts(program, deal, contact, CustomerHistory(won_deals=2, purchases_total=500_00))


def test_the_declared_variables_are_exactly_what_the_engine_passes() -> None:
    passed = {name: json_to_cel(value) for name, value in _cel_plain(_facts()).items()}
    assert set(passed) == set(VARIABLES)
    for name, value in passed.items():
        declared = VARIABLES[name]
        assert declared.attrs is not None
        assert set(value) == {attr for attr, _ in declared.attrs}, name
        for attr, kind in declared.attrs:
            assert _CEL_KIND[type(value[celpy.celtypes.StringType(attr)])] == kind.kind, (
                f"{name}.{attr}"
            )


def _cel_plain(facts: Facts) -> dict[str, object]:
    from kopilka.program.cel import _plain

    return {name: _plain(value) for name, value in facts.cel_variables().items()}


# -- every mix the runtime refuses is refused before it runs ----------------------------------

SAMPLES = {
    "int": "history.won_deals",
    "uint": "1u",
    "double": "deal.opportunity",
    "string": "contact.type",
    "bool": "deal.has_company",
    "null": "null",
    "list": "[1]",
    "map": "{'a': 1}",
    "bytes": "b'a'",
}
OPERATORS = ["<", "<=", ">", ">=", "==", "!=", "+", "-", "*", "/", "%", "in"]


def _runs(expression: str) -> bool:
    variables = {name: json_to_cel(value) for name, value in _cel_plain(_facts()).items()}
    try:
        result = _ENV.program(_ENV.compile(expression)).evaluate(variables)
    except Exception:  # celpy raises several unrelated types
        return False
    return not isinstance(result, Exception)


@pytest.mark.parametrize("op", OPERATORS)
def test_whatever_celpy_cannot_evaluate_the_check_refuses(op: str) -> None:
    refused_at_run_time = 0
    for (a, left), (b, right) in itertools.product(SAMPLES.items(), repeat=2):
        expression = f"{left} {op} {right}"
        wrapped = f"type({expression}) != null_type"  # any result kind is a valid whole
        if not _runs(expression):
            refused_at_run_time += 1
            assert problems(wrapped), f"{a} {op} {b}: fails at run time, but the check passes"
    assert refused_at_run_time, "the samples must reach refused mixes"


@pytest.mark.parametrize(
    "expression",
    [
        "deal.opportunity >= 10000",  # docs/program-file.md: a double may be compared to an int
        "history.won_deals == 0 && deal.opportunity >= 10000",
        "has(contact.fields.UF_CRM_VIP) && contact.fields.UF_CRM_VIP == 'Y'",
        "contact.type in ['CLIENT', '1'] || deal.pipeline == 'retail'",
        "contact.fields.UF_CRM_CLASS.exists(v, v == '44')",
        "deal.fields.all(code, code.startsWith('UF_'))",
        "[1, 2].map(x, x * 2).size() == 2 && !deal.has_company",
        "int(contact.fields.UF_CRM_AGE) >= 18 ? true : history.purchases_total > 100.0",
        "size(contact.type) > 0 && contact.type.matches('^CL')",
        "timestamp('2026-01-01T00:00:00Z').getFullYear() == 2026",
        "{1: 'a', 2: 'b'}[history.won_deals] == 'b'",
        "[[1]].all(x, x.all(y, y > 0)) && [1].exists(deal, deal > 0)",
    ],
)
def test_well_typed_expressions_pass(expression: str) -> None:
    assert problems(expression) == ()
    assert _runs(expression), "what the check accepts must evaluate"


# -- what the integrator reads --------------------------------------------------------------


def test_a_number_compared_with_a_string_is_named_with_a_fix() -> None:
    assert problems("deal.opportunity > '10000'") == (
        "deal.opportunity > '10000': '>' cannot compare a double with a string"
        " — write the number 10000 without quotes",
    )


def test_an_int_on_the_left_of_a_double_is_refused_as_celpy_refuses_it() -> None:
    (problem,) = problems("10000 <= deal.opportunity")
    assert "'<=' cannot compare an int with a double" in problem
    (problem,) = problems("deal.opportunity == 15000")
    assert "'==' between a double and an int fails" in problem


def test_an_unknown_attribute_of_a_declared_variable_is_named() -> None:
    (problem,) = problems("deal.opportunty > 1.0")
    assert problem.startswith("deal.opportunty: deal has no attribute 'opportunty'")
    assert 'did you mean "opportunity"' in problem
    (problem,) = problems("has(history.won)")
    assert "history has no attribute 'won'" in problem


def test_an_unknown_variable_or_function_is_named() -> None:
    (problem,) = problems("dael.id == 1")
    assert "unknown name 'dael'" in problem
    assert 'did you mean "deal"' in problem
    assert problems("lower(contact.type) == 'x'") == (
        "lower(contact.type): unknown function 'lower'",
    )


def test_fields_hold_only_user_fields() -> None:
    (problem,) = problems("deal.fields.TITLE == 'x'")
    assert "deal.fields holds only user fields (UF_CRM_…), never 'TITLE'" in problem


def test_the_result_must_be_true_or_false() -> None:
    assert problems("history.won_deals + 1") == ("the expression gives an int, not true or false",)
    (problem,) = problems("deal.has_company && contact.type")
    assert "the right side of '&&' must be true or false, got a string" in problem


def test_a_macro_variable_takes_the_element_type() -> None:
    (problem,) = problems("[1, 2].exists(x, x == 'a')")
    assert "'==' compares an int with a string" in problem


def test_the_fields_an_expression_reads_are_listed() -> None:
    checked = check_expression(
        "has(deal.fields.UF_CRM_A) && contact.fields['UF_CRM_B'] == 'x' && deal.id > 0"
    )
    assert checked.reads == (("deal", "UF_CRM_A"), ("contact", "UF_CRM_B"))


def test_a_type_error_in_a_program_file_names_its_line() -> None:
    text = HEAD + (
        "segments:\n"
        "  big:\n"
        "    title: крупные\n"
        "    when:\n"
        "      expr: \"deal.opportunity > '10000'\"\n"
        "earn:\n"
        "  - {id: a, title: A, percent: 5}\n"
    )
    with pytest.raises(ProgramFileError) as caught:
        parse_program(text, "x.yaml")
    (problem,) = caught.value.problems
    assert (problem.line, problem.field, problem.severity) == (7, "segments.big.when.expr", "error")
    assert "CEL type error: deal.opportunity > '10000'" in problem.message


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("deal.fields[1] == 1", "deal.fields is indexed by a string, not an int"),
        ("deal.id.x == 1", "an int has no attributes ('.x')"),
        ("matches(contact.type)", "matches() takes 2 arguments, got 1"),
        ("deal{id: 1}", "message construction is not available"),
        ("1 ? true : false", "the condition before '?' must be true or false, got an int"),
    ],
)
def test_what_fails_at_run_time_is_named(expression: str, says: str) -> None:
    assert any(says in problem for problem in problems(expression)), problems(expression)
    assert not _runs(expression)


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("'abc'[0] == 'a'", "a string cannot be indexed"),
        ("[1].filter(x, x) == []", "the condition of .filter() must be true or false"),
        ("contact.type == null", "compares a string with a null"),
        ("has(deal.id + 1)", "has() takes a field selection"),  # celpy: silently false
    ],
)
def test_where_celpy_is_looser_than_cel_the_check_is_cel(expression: str, says: str) -> None:
    assert any(says in problem for problem in problems(expression)), problems(expression)


def test_has_takes_a_constant_index_as_celpy_does() -> None:
    checked = check_expression("has(deal.fields['UF_CRM_A'])")
    assert checked.problems == ()
    assert checked.reads == (("deal", "UF_CRM_A"),)
