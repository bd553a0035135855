"""S5: each contact of a trips deal sees its discounts and cashback, or «не применяется»."""

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

from kopilka.domain.deal import Contact, CustomerHistory, Deal
from kopilka.domain.engine import evaluate_deal
from kopilka.program import Program

RUB = 100
NOW = datetime(2025, 6, 10, 9, tzinfo=UTC)
ANNA = Contact(1, is_primary=True, birthdate=date(1985, 6, 15))
BORIS = Contact(2, fields={"UF_CRM_BIRTHDAY_WINDOW": "N"})
HISTORIES = {
    1: CustomerHistory(
        won_deals=3, won_deals_by_pipeline={0: 2, 2: 1}, available_points=2_000 * RUB
    ),
    2: CustomerHistory(won_deals=5, won_deals_by_pipeline={0: 5}, available_points=1_000 * RUB),
}


def offers(program: Program, pipeline: int) -> dict[tuple[int, str], tuple[object, ...]]:
    deal = Deal(1, pipeline, "process", 300_000 * RUB, (ANNA, BORIS))
    effects = evaluate_deal(program, deal, HISTORIES, NOW)
    return {
        (o.contact_id, o.discount_id): (o.percent, o.amount, o.applicable, o.note_ru)
        for o in effects.offers
    }


def test_trip_deal_lists_discounts_per_contact(example: Callable[[str], Program]) -> None:
    listed = offers(example("travel-club"), pipeline=0)
    assert listed[(1, "trips")][:3] == (Decimal(5), 7_500 * RUB, True)  # 2 trips: 5 % of 150 000
    assert listed[(2, "trips")][:3] == (Decimal(7), 10_500 * RUB, True)  # 5 trips: 7 %
    assert listed[(1, "birthday")][:3] == (Decimal(10), 15_000 * RUB, True)  # 15 June: inside
    assert listed[(2, "birthday")][:3] == (None, None, False)
    assert listed[(1, "points")][2:] == (False, "не применяется")  # no cashback on trips
    assert listed[(2, "points")][2:] == (False, "не применяется")


def test_event_deal_bars_the_trip_discount(example: Callable[[str], Program]) -> None:
    listed = offers(example("travel-club"), pipeline=2)
    assert listed[(1, "trips")][2:] == (False, "не применяется")
    assert listed[(1, "points")][1:3] == (2_000 * RUB, True)
    assert listed[(2, "points")][1:3] == (1_000 * RUB, True)


def test_birthday_flag_field_is_used_without_a_birthdate(example: Callable[[str], Program]) -> None:
    program = example("travel-club")
    flagged = Contact(3, fields={"UF_CRM_BIRTHDAY_WINDOW": "Y"})
    effects = evaluate_deal(program, Deal(1, 2, "process", 1_000 * RUB, (flagged,)), {}, NOW)
    birthday = next(o for o in effects.offers if o.discount_id == "birthday")
    assert (birthday.percent, birthday.applicable) == (Decimal(10), True)


def test_event_cashback_goes_to_each_contact_and_expires_on_1_january(
    example: Callable[[str], Program],
) -> None:
    deal = Deal(1, 2, "won", 20_000 * RUB, (ANNA, BORIS), closed_at=NOW)
    accruals = evaluate_deal(example("travel-club"), deal, {}, NOW).accruals
    assert [(a.contact_id, a.amount) for a in accruals] == [(1, 1_000 * RUB), (2, 1_000 * RUB)]
    assert {a.expires_at for a in accruals} == {datetime(2025, 12, 31, 21, tzinfo=UTC)}
