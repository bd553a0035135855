"""Segments from the contact type, a list field, the pipeline, the company, or a CEL expression."""

from collections.abc import Callable
from datetime import datetime

import pytest

from kopilka.domain.deal import Contact, CustomerHistory, Deal
from kopilka.domain.engine import evaluate_deal
from kopilka.domain.segments import Facts, resolve_segment
from kopilka.program import Program

SEGMENTS = """
segments:
  vip: {title: VIP, when: {expr: "deal.opportunity >= 50000 && contact.fields.UF_CRM_VIP == 'Y'"}}
  opt:
    title: опт
    when:
      any:
        - contact_type: ["1", "2"]
        - contact_field: {field: UF_CRM_CLASS, in: ["45", "46"]}
        - all: [{pipeline: [wholesale]}, {has_company: true}]
  rozn: {title: розница, when: {not: {has_company: true}}}
default_segment: rozn
earn:
  - {id: vip, title: VIP, segments: [vip], percent: 10}
  - {id: opt, title: Опт, segments: [opt], percent: 8}
  - {id: rozn, title: Розница, segments: [rozn], percent: 5}
"""


def segment_of(
    program: Program,
    contact: Contact,
    pipeline: int = 0,
    company: int | None = None,
    amount: int = 100_000,
) -> str | None:
    deal = Deal(1, pipeline, "won", amount, (contact,), company_id=company)
    return resolve_segment(Facts(program, deal, contact, CustomerHistory()))


@pytest.mark.parametrize(
    ("contact", "pipeline", "company", "expected"),
    [
        (Contact(1, type_id="1"), 0, None, "opt"),  # contact type
        (Contact(1, type_id="2"), 0, None, "opt"),  # several types in one segment
        (Contact(1, type_id="CLIENT", fields={"UF_CRM_CLASS": "46"}), 0, None, "opt"),  # list
        (Contact(1, type_id="CLIENT", fields={"UF_CRM_CLASS": ["44", "45"]}), 0, None, "opt"),
        (Contact(1, type_id="CLIENT"), 1, 9, "opt"),  # pipeline and company
        (Contact(1, type_id="CLIENT"), 1, None, "rozn"),  # no company
        (Contact(1, type_id="CLIENT"), 0, 9, "rozn"),  # default segment
    ],
)
def test_segment_sources(
    program_from: Callable[[str], Program],
    contact: Contact,
    pipeline: int,
    company: int | None,
    expected: str,
) -> None:
    assert segment_of(program_from(SEGMENTS), contact, pipeline, company) == expected


def test_cel_segment_sees_roubles_and_fields(program_from: Callable[[str], Program]) -> None:
    program = program_from(SEGMENTS)
    vip = Contact(1, type_id="1", fields={"UF_CRM_VIP": "Y"})
    assert segment_of(program, vip, amount=50_000 * 100) == "vip"
    assert segment_of(program, vip, amount=49_999 * 100) == "opt"


def test_cel_error_is_false_and_surfaced(
    program_from: Callable[[str], Program], now: datetime
) -> None:
    program = program_from(SEGMENTS)
    contact = Contact(1, type_id="1")  # no UF_CRM_VIP field: the expression fails
    effects = evaluate_deal(program, Deal(1, 0, "won", 10_000_000, (contact,)), {}, now)
    (accrual,) = effects.accruals
    assert accrual.rule_id == "opt"
    assert "UF_CRM_VIP" in accrual.rule_inputs["condition_errors"][0]
    assert effects.warnings == tuple(accrual.rule_inputs["condition_errors"])


def test_non_boolean_expression_is_an_error(program_from: Callable[[str], Program]) -> None:
    # `kopilka check` refuses 'deal.id + 1'; through dyn() only the run time sees the kind
    program = program_from("segments:\n  a: {title: A, when: {expr: 'dyn(deal.id + 1)'}}\n")
    contact = Contact(1)
    facts = Facts(program, Deal(1, 0, "won", 1, (contact,)), contact, CustomerHistory())
    assert resolve_segment(facts) is None
    assert "not true or false" in facts.errors[0]
