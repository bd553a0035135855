"""Seed 002, R-15/R-16 (issue 15 item 5): the trip dates live in a deal field the portal does not
reset at the win, several product rows give one consistent set of copies, and a totals rule can
count a won deal in the year of its trip rather than the year it was won."""

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from kopilka.domain.deal import Contact, Deal, ProductRow
from kopilka.domain.transfer import date_in, source_row, yearly_totals
from kopilka.program import Program, ProgramFileError, parse_program

RUB = 100
TRIP = {
    "CODE": "ISL",
    "PROPERTY_HOTEL": "Rangá",
    "PROPERTY_HEADLINER": "М. К.",
    "PROPERTY_DATES": "2027-03-12",
}


def test_closedate_is_refused_as_a_copy_target_with_the_reason() -> None:
    text = (
        "program: t\ntitle: T\ntransfer:\n  product_to_deal:\n"
        "    - {from: PROPERTY_DATES, to: CLOSEDATE}\n"
    )
    with pytest.raises(ProgramFileError, match="sets it to the day a deal is won") as caught:
        parse_program(text, "x.yaml")
    assert "year_of" in str(caught.value)


def test_the_row_with_every_copied_property_is_the_source(
    example: Callable[[str], Program],
) -> None:
    program = example("travel-club")
    insurance = ProductRow(5, "Страховка", 3_000 * RUB, properties={"CODE": "INS"})
    iceland = ProductRow(7, "Исландия", 300_000 * RUB, properties=TRIP)
    altai = ProductRow(8, "Алтай", 100_000 * RUB, properties={**TRIP, "CODE": "ALT"})
    free_text = ProductRow(None, "Доставка", 500 * RUB)
    assert source_row(program, (free_text, insurance, iceland, altai)) is iceland
    assert source_row(program, (altai, iceland)) is altai  # two trips: the first in the deal
    assert source_row(program, (free_text, insurance)) is insurance  # none complete: first product
    assert source_row(program, (free_text,)) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2027-03-12", date(2027, 3, 12)),
        ("2027-03-12T03:00:00+03:00", date(2027, 3, 12)),
        ("12.03.2027 – 25.03.2027", date(2027, 3, 12)),
        (["2027-05-01", "2027-03-12"], date(2027, 3, 12)),
        (date(2027, 3, 12), date(2027, 3, 12)),
        ("весной", None),
        ("2027-02-30", None),
        (None, None),
        ("", None),
    ],
)
def test_the_date_a_field_shows(value: object, expected: date | None) -> None:
    assert date_in(value) == expected


def test_trips_count_in_the_year_of_the_trip(example: Callable[[str], Program]) -> None:
    program = example("travel-club")
    now = datetime(2026, 12, 20, tzinfo=UTC)
    won = datetime(2026, 12, 15, tzinfo=UTC)
    deals = [
        # won in December 2026 for a trip in March 2027: «Путешествия 2027»
        Deal(
            1,
            0,
            "won",
            300_000 * RUB,
            (Contact(1),),
            closed_at=won,
            fields={"UF_CRM_TRIP_DATES": "2027-03-12T03:00:00+03:00"},
        ),
        # no trip date on the deal: the year it was won
        Deal(2, 0, "won", 100_000 * RUB, (Contact(1),), closed_at=won),
        # an event (not by trip dates) in the year it was won whatever the field says
        Deal(
            3,
            2,
            "won",
            5_000 * RUB,
            (Contact(1),),
            closed_at=won,
            fields={"UF_CRM_TRIP_DATES": "2027-03-12"},
        ),
    ]
    totals = yearly_totals(program, deals, now)[1]
    assert totals["UF_CRM_TRAVEL_2027"] == 300_000 * RUB
    assert totals["UF_CRM_TRAVEL_2026"] == 100_000 * RUB
    assert totals["UF_CRM_EVENTS_2026"] == 5_000 * RUB
    assert "UF_CRM_EVENTS_2027" not in totals  # by the win date: no next year
