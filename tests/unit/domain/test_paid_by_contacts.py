"""Issue 15, item 7 (seed 004): points a deal's contacts pay through their offers-list elements
are paid with points as much as the deal field's amount — no points are earned on them."""

from collections.abc import Callable
from datetime import datetime

from kopilka.domain.deal import Contact, CustomerHistory, Deal
from kopilka.domain.engine import evaluate_deal
from kopilka.program import Program

RUB = 100
ANNA = Contact(1, type_id="CLIENT", is_primary=True)


def earned(program: Program, deal: Deal, now: datetime, balance: int = 0) -> int:
    history = {ANNA.id: CustomerHistory(available_points=balance)}
    return evaluate_deal(program, deal, history, now).total_accrued


def test_points_paid_through_the_list_lower_the_base(
    example: Callable[[str], Program], now: datetime
) -> None:
    program = example("retail-wholesale")  # 5 % for retail, none on the part paid with points
    plain = Deal(1, 0, "won", 10_000 * RUB, (ANNA,))
    assert earned(program, plain, now) == 500 * RUB
    by_list = Deal(1, 0, "won", 10_000 * RUB, (ANNA,), points_paid_by_contacts=2_000 * RUB)
    assert earned(program, by_list, now) == 400 * RUB  # 5 % of the 8 000 paid in money
    # the same as the deal's own field paying 2 000
    by_field = Deal(1, 0, "won", 10_000 * RUB, (ANNA,), points_to_pay=2_000 * RUB)
    assert earned(program, by_field, now, balance=5_000 * RUB) == 400 * RUB
    # both: 3 000 paid with points in all
    both = Deal(
        1,
        0,
        "won",
        10_000 * RUB,
        (ANNA,),
        points_to_pay=2_000 * RUB,
        points_paid_by_contacts=1_000 * RUB,
    )
    effects = evaluate_deal(program, both, {1: CustomerHistory(available_points=5_000 * RUB)}, now)
    assert effects.total_accrued == 350 * RUB
    assert effects.accruals[0].rule_inputs["paid_with_points"] == 3_000 * RUB
