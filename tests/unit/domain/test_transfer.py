"""S3: product properties copied to the deal; yearly totals per contact, split between contacts."""

from collections.abc import Callable
from datetime import UTC, date, datetime

from kopilka.domain.deal import Contact, Deal, ProductRow
from kopilka.domain.transfer import product_to_deal, split_amount, yearly_totals
from kopilka.program import Program

RUB = 100
ICELAND = ProductRow(
    product_id=77,
    name="Исландия 2026",
    price=300_000 * RUB,
    properties={
        "CODE": "ISL-26",
        "PROPERTY_HOTEL": "Hotel Rangá",
        "PROPERTY_HEADLINER": "Михаил Кожухов",
        "PROPERTY_DATES": date(2026, 3, 12),
    },
)
ANNA, BORIS = Contact(1, is_primary=True), Contact(2)


def test_product_properties_become_deal_fields(example: Callable[[str], Program]) -> None:
    assert product_to_deal(example("travel-club"), ICELAND) == {
        "TITLE": "Исландия 2026",
        "UF_CRM_TRIP_DATES": date(2026, 3, 12),
        "UF_CRM_ARTICLE": "ISL-26",
        "UF_CRM_HOTEL": "Hotel Rangá",
        "UF_CRM_HEADLINER": "Михаил Кожухов",
    }


def test_missing_properties_are_left_out(example: Callable[[str], Program]) -> None:
    bare = ProductRow(None, "Алтай", 100, properties={"PROPERTY_HOTEL": ""})
    assert product_to_deal(example("travel-club"), bare) == {"TITLE": "Алтай"}


def test_a_deal_of_300000_with_two_contacts_adds_150000_each(
    example: Callable[[str], Program],
) -> None:
    deal = Deal(1, 0, "won", 300_000 * RUB, (ANNA, BORIS), rows=(ICELAND,))
    assert split_amount(example("travel-club"), deal) == {1: 150_000 * RUB, 2: 150_000 * RUB}


def test_yearly_totals_by_pipeline_and_year(example: Callable[[str], Program]) -> None:
    program = example("travel-club")
    now = datetime(2026, 5, 1, tzinfo=UTC)
    deals = [
        Deal(1, 0, "won", 300_000 * RUB, (ANNA, BORIS), closed_at=datetime(2026, 3, 1, tzinfo=UTC)),
        Deal(2, 0, "won", 100_000 * RUB, (ANNA,), closed_at=datetime(2024, 7, 1, tzinfo=UTC)),
        # 31 Dec 2024 22:00 UTC is 1 January 2025 01:00 in Moscow: it counts for 2025.
        Deal(3, 2, "won", 5_000 * RUB, (BORIS,), closed_at=datetime(2024, 12, 31, 22, tzinfo=UTC)),
        Deal(4, 0, "lost", 999 * RUB, (ANNA,), closed_at=datetime(2026, 1, 1, tzinfo=UTC)),
        Deal(5, 0, "won", 50 * RUB, (ANNA,), closed_at=datetime(2015, 1, 1, tzinfo=UTC)),
    ]
    totals = yearly_totals(program, deals, now)
    assert totals[1]["UF_CRM_TRAVEL_2026"] == 150_000 * RUB
    assert totals[1]["UF_CRM_TRAVEL_2024"] == 100_000 * RUB
    assert totals[1]["UF_CRM_TRAVEL_2025"] == 0
    assert totals[2]["UF_CRM_TRAVEL_2026"] == 150_000 * RUB
    assert totals[2]["UF_CRM_EVENTS_2025"] == 5_000 * RUB
    assert totals[2]["UF_CRM_EVENTS_2024"] == 0
    assert "UF_CRM_TRAVEL_2015" not in totals[1]  # older than years_back
    assert set(totals[1]) >= {f"UF_CRM_TRAVEL_{y}" for y in range(2021, 2027)}
