"""Campaigns on the marketing calendar, pure: windows (one-off, yearly across New Year), scope,
effects, explanations and the budget."""

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from kopilka.domain.campaigns import contact_share, fit_budgets, window_of, windows_in
from kopilka.domain.deal import Contact, CustomerHistory, Deal, ProductRow
from kopilka.domain.engine import evaluate_deal
from kopilka.domain.texts import reason
from kopilka.program import Program, ProgramFileError, parse_program

RUB = 100
NBSP = "\u00a0"
ALICE = Contact(1, type_id="CLIENT", is_primary=True)
BASE = """
segments:
  wholesale: {title: опт, when: {contact_type: ["1"]}}
  retail: {title: розница, when: {contact_type: [CLIENT]}}
catalog_sections:
  repair: {id: 12, title: Ремонт}
  parts: {id: 13, title: Запчасти}
earn:
  - {id: retail-5, title: Розница 5 %, segments: [retail], percent: 5}
campaigns:
"""
FRIDAY = (
    "  - {id: bf, title: Чёрная пятница, every_year: {from: 11-24, to: 11-30}, multiplier: 2}\n"
)


def won(at: datetime, amount: int = 10_000, contact: Contact = ALICE, **kw: object) -> Deal:
    return Deal(1, 0, "won", amount * RUB, (contact,), closed_at=at, **kw)  # type: ignore[arg-type]


def moscow(y: int, m: int, d: int, h: int = 12) -> datetime:
    return datetime(y, m, d, h - 3, 0, tzinfo=UTC)  # Europe/Moscow is UTC+3


def test_yearly_window_holds_its_days_in_every_year(
    program_from: Callable[[str], Program],
) -> None:
    (campaign,) = program_from(BASE + FRIDAY).campaigns
    assert window_of(campaign, date(2026, 11, 24)) == (date(2026, 11, 24), date(2026, 11, 30))
    assert window_of(campaign, date(2031, 11, 30)) == (date(2031, 11, 24), date(2031, 11, 30))
    assert window_of(campaign, date(2026, 11, 23)) is None
    assert window_of(campaign, date(2026, 12, 1)) is None


def test_yearly_window_wraps_across_new_year(program_from: Callable[[str], Program]) -> None:
    line = "  - {id: ny, title: Новый год, every_year: {from: 12-25, to: 01-08}, bonus: 100}\n"
    (campaign,) = program_from(BASE + line).campaigns
    december = (date(2026, 12, 25), date(2027, 1, 8))
    assert window_of(campaign, date(2026, 12, 31)) == december
    assert window_of(campaign, date(2027, 1, 8)) == december
    assert window_of(campaign, date(2027, 1, 9)) is None
    assert window_of(campaign, date(2026, 12, 24)) is None
    assert windows_in(campaign, date(2027, 1, 1), date(2027, 1, 31)) == [december]


def test_one_off_window_and_its_days(program_from: Callable[[str], Program]) -> None:
    line = "  - {id: sale, title: Распродажа, from: 2026-03-01, to: 2026-03-10, bonus: 100}\n"
    (campaign,) = program_from(BASE + line).campaigns
    assert window_of(campaign, date(2026, 3, 10)) == (date(2026, 3, 1), date(2026, 3, 10))
    assert window_of(campaign, date(2027, 3, 5)) is None
    assert windows_in(campaign, date(2026, 2, 1), date(2026, 2, 28)) == []


def test_a_deal_won_in_the_window_earns_double_and_says_so(
    program_from: Callable[[str], Program],
) -> None:
    program = program_from(BASE + FRIDAY)
    inside = evaluate_deal(program, won(moscow(2026, 11, 27)), {}, moscow(2026, 11, 27))
    plain, extra = inside.accruals
    assert (plain.amount, extra.amount) == (500 * RUB, 500 * RUB)
    assert extra.rule_id == "campaign:bf:2026-11-24"
    assert extra.explanation_ru == "+500 бонусов: ×2 по акции «Чёрная пятница»"
    assert extra.explanation_en == "+500 points: ×2 in the «Чёрная пятница» campaign"
    assert reason("en", extra.explanation_ru) == extra.explanation_en
    assert extra.rule_inputs["window"] == ["2026-11-24", "2026-11-30"]
    outside = evaluate_deal(program, won(moscow(2026, 12, 1)), {}, moscow(2026, 12, 1))
    assert [a.rule_id for a in outside.accruals] == ["retail-5"]


def test_the_win_counts_in_the_programs_time_zone(
    program_from: Callable[[str], Program],
) -> None:
    program = program_from(BASE + FRIDAY)
    # 2026-11-30 22:30 UTC is already 1 December in Moscow: outside the window
    late = datetime(2026, 11, 30, 22, 30, tzinfo=UTC)
    assert len(evaluate_deal(program, won(late), {}, late).accruals) == 1
    # 2026-11-23 21:30 UTC is 24 November in Moscow: inside
    early = datetime(2026, 11, 23, 21, 30, tzinfo=UTC)
    assert len(evaluate_deal(program, won(early), {}, early).accruals) == 2


def test_scope_by_segment_pipeline_and_condition(program_from: Callable[[str], Program]) -> None:
    line = (
        "  - id: opt\n    title: Оптовикам\n    every_year: {from: 11-24, to: 11-30}\n"
        "    segments: [retail]\n    pipelines: [retail]\n"
        "    when: {expr: 'deal.opportunity >= 5000'}\n    bonus: 300\n"
    )
    program = program_from(BASE + line)
    at = moscow(2026, 11, 25)
    assert evaluate_deal(program, won(at), {}, at).accruals[1].amount == 300 * RUB
    small = evaluate_deal(program, won(at, amount=4_000), {}, at)
    assert [a.rule_id for a in small.accruals] == ["retail-5"]
    other = Deal(1, 1, "won", 10_000 * RUB, (ALICE,), closed_at=at)  # the wholesale pipeline
    assert [a.rule_id for a in evaluate_deal(program, other, {}, at).accruals] == ["retail-5"]
    wholesaler = Contact(2, type_id="1", is_primary=True)
    assert evaluate_deal(program, won(at, contact=wholesaler), {}, at).accruals == ()


def test_multiplier_on_the_campaigns_sections_only(program_from: Callable[[str], Program]) -> None:
    line = (
        "  - {id: rep, title: Ремонт ×3, every_year: {from: 11-24, to: 11-30}, "
        "sections: [repair], multiplier: 3}\n"
    )
    program = program_from(BASE + line)
    at = moscow(2026, 11, 25)
    rows = (
        ProductRow(1, "Ремонт", 6_000 * RUB, section_id=12),
        ProductRow(2, "Болт", 4_000 * RUB, section_id=13),
    )
    effects = evaluate_deal(program, won(at, rows=rows), {}, at)
    plain, extra = effects.accruals
    assert plain.amount == 500 * RUB  # 5 % of 10 000
    assert extra.amount == 600 * RUB  # the two extra 5 % on the 6 000 of repair
    assert extra.explanation_ru == "+600 бонусов: ×3 по акции «Ремонт ×3»"


def test_birthday_in_the_window_and_levels(program_from: Callable[[str], Program]) -> None:
    body = BASE.replace("campaigns:\n", "") + (
        "levels:\n  basis: won_deals\n  count_current_deal: false\n  tiers:\n"
        "    - {id: silver, title: Серебро, from: 1, percent: 3}\n"
        "campaigns:\n"
        "  - {id: bd, title: Именинникам, every_year: {from: 03-01, to: 03-31}, birthday: true, "
        "bonus: 1000}\n"
        "  - {id: vip, title: Серебру, every_year: {from: 03-01, to: 03-31}, levels: [silver], "
        "bonus: 200}\n"
    )
    program = program_from(body)
    at = moscow(2027, 3, 2)
    march = Contact(1, type_id="CLIENT", birthdate=date(1990, 3, 30), is_primary=True)
    april = Contact(1, type_id="CLIENT", birthdate=date(1990, 4, 1), is_primary=True)
    rules = [a.rule_id for a in evaluate_deal(program, won(at, contact=march), {}, at).accruals]
    assert rules == ["retail-5", "campaign:bd:2027-03-01"]
    assert [a.rule_id for a in evaluate_deal(program, won(at, contact=april), {}, at).accruals] == [
        "retail-5"
    ]
    silver = {1: CustomerHistory(won_deals=1)}
    got = evaluate_deal(program, won(at, contact=april), silver, at).accruals
    assert [a.rule_id for a in got] == ["retail-5", "campaign:vip:2027-03-01"]


def test_max_share_in_the_window_overrides_the_programs(
    program_from: Callable[[str], Program],
) -> None:
    line = (
        "  - {id: pay, title: Платите баллами, from: 2026-05-01, to: 2026-05-31, max_share: 80}\n"
    )
    program = program_from("redemption: {max_share: 40}\n" + BASE + line)
    history = {1: CustomerHistory(available_points=9_000 * RUB)}
    inside = Deal(1, 0, "process", 10_000 * RUB, (ALICE,), points_to_pay=9_000 * RUB)
    effects = evaluate_deal(program, inside, history, moscow(2026, 5, 10))
    assert effects.redemption is not None
    assert effects.redemption.amount == 8_000 * RUB
    assert effects.payable_share == 80
    after = evaluate_deal(program, inside, history, moscow(2026, 6, 1))
    assert after.redemption is not None
    assert after.redemption.amount == 4_000 * RUB


def test_budget_gives_what_fits_then_nothing(program_from: Callable[[str], Program]) -> None:
    line = (
        "  - {id: bf, title: Чёрная пятница, every_year: {from: 11-24, to: 11-30}, "
        "multiplier: 2, budget: 700}\n"
    )
    program = program_from(BASE + line)
    at = moscow(2026, 11, 25)
    first = evaluate_deal(program, won(at), {}, at).accruals
    fitted, spent = fit_budgets(program, first, {})
    assert [a.amount for a in fitted] == [500 * RUB, 500 * RUB]
    fitted, spent = fit_budgets(program, first, spent)
    assert [a.amount for a in fitted] == [500 * RUB, 200 * RUB]
    assert fitted[1].explanation_ru == "+200 бонусов: ×2 по акции «Чёрная пятница»"
    assert fitted[1].rule_inputs["budget_cut"] == 300 * RUB
    fitted, spent = fit_budgets(program, first, spent)
    assert [a.rule_id for a in fitted] == ["retail-5"]
    assert spent == {"campaign:bf:2026-11-24": 700 * RUB}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{id: a, title: A, every_year: {from: 11-24, to: 11-31}, bonus: 1}", "MM-DD"),
        ("{id: a, title: A, from: 2026-11-24, bonus: 1}", "needs both 'from' and 'to'"),
        ("{id: a, title: A, from: 11-24, to: 2026-11-30, bonus: 1}", "write every_year"),
        ("{id: a, title: A, from: 2026-11-24, to: 2026-11-01, bonus: 1}", "ends (2026-11-01)"),
        ("{id: a, title: A, every_year: {from: 11-24, to: 11-30}}", "give an effect"),
        ("{id: a, title: A, every_year: {from: 11-24, to: 11-30}, multiplier: 1}", "above 1"),
        ("{id: a, title: A, every_year: {from: 02-29, to: 03-01}, bonus: 1}", "02-28"),
        (
            "{id: a, title: A, every_year: {from: 11-24, to: 11-30}, max_share: 5, budget: 9}",
            "a budget caps points",
        ),
        (
            "{id: a, title: A, every_year: {from: 11-24, to: 11-30}, segments: [vip], bonus: 1}",
            "unknown segment 'vip'",
        ),
        (
            "{id: a, title: A, every_year: {from: 11-24, to: 11-30}, levels: [gold], bonus: 1}",
            "unknown level 'gold'",
        ),
    ],
)
def test_bad_campaigns_are_refused_with_their_line(
    program_from: Callable[[str], Program], line: str, message: str
) -> None:
    with pytest.raises(ProgramFileError) as caught:
        program_from(BASE + "  - " + line + "\n")
    (problem,) = caught.value.problems
    assert problem.line == 16
    assert problem.field.startswith("campaigns[0]")
    assert message in problem.message


def test_a_campaigns_unmapped_deal_field_is_an_error() -> None:
    text = (
        "program: t\ntitle: T\nearn: [{id: a, title: A, percent: 5}]\ncampaigns:\n"
        "  - {id: c, title: C, every_year: {from: 11-24, to: 11-30}, bonus: 1,\n"
        "     when: {expr: \"has(deal.fields.UF_CRM_SRC) && deal.fields.UF_CRM_SRC == 'x'\"}}\n"
    )
    with pytest.raises(ProgramFileError) as caught:
        parse_program(text, "x.yaml")
    assert "UF_CRM_SRC" in str(caught.value)
    assert "campaigns[0].when.expr" in str(caught.value)


def test_a_campaign_part_that_changes_nothing_is_a_warning(
    program_from: Callable[[str], Program],
) -> None:
    line = (
        "  - {id: rep, title: Ремонт, every_year: {from: 11-24, to: 11-30}, sections: [repair], "
        "bonus: 100}\n"
    )
    (warning,) = program_from(BASE + line).warnings
    assert (warning.line, warning.field, warning.severity) == (
        16,
        "campaigns[0].sections",
        "warning",
    )
    assert "sections scope only a multiplier" in warning.message
    fixed = BASE.replace("percent: 5}", "fixed: 100}") + FRIDAY
    (warning,) = program_from(fixed).warnings
    assert warning.field == "campaigns[0].multiplier"
    assert "no earn rule gives a percent" in warning.message


def test_a_contacts_own_cap_follows_the_campaigns_share(
    program_from: Callable[[str], Program],
) -> None:
    """The per-contact offers (the deal tab, the offers list) cap each contact's points by the
    same share the engine pays by: a campaign's in its window, else the program's."""
    line = (
        "  - {id: pay, title: Платите баллами, from: 2026-05-01, to: 2026-05-31, max_share: 80}\n"
    )
    program = program_from("redemption: {max_share: 40}\n" + BASE + line)
    deal = Deal(1, 0, "process", 10_000 * RUB, (ALICE,))
    history = CustomerHistory()
    assert contact_share(program, deal, ALICE, history, moscow(2026, 5, 10)) == 80
    assert contact_share(program, deal, ALICE, history, moscow(2026, 6, 1)) == 40
