"""Issue 15, item 6, the pure part: what a deal shows of the points (the payer's balance, the
most it may pay, what it pays and earned) and the one ``crm.deal.update`` that carries it with
the data transfer's fields, written only where the deal shows otherwise."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from kopilka.bitrix24.sync.plan import Shown, deal_update, shown_on_deal
from kopilka.domain.deal import Contact, CustomerHistory, Deal, ProductRow
from kopilka.domain.engine import evaluate_deal
from kopilka.program.loader import load_program

EXAMPLES = Path(__file__).parents[3] / "examples"
RETAIL = load_program(EXAMPLES / "retail-wholesale.yaml")
TRAVEL = load_program(EXAMPLES / "travel-club.yaml")
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
ANNA = Contact(5, "CLIENT", is_primary=True)
FIELDS = ("UF_CRM_KOP_DEAL_BALANCE", "UF_CRM_KOP_MAX_PAY", "UF_CRM_KOP_PAID", "UF_CRM_KOP_EARNED")


def test_a_capped_request_shows_what_is_applied_and_the_cap() -> None:
    asked = Deal(7, 0, "process", 10_000_00, (ANNA,), points_to_pay=5_000_00)
    effects = evaluate_deal(RETAIL, asked, {5: CustomerHistory(available_points=5_000_00)}, NOW)
    # after the hold of 4 000 (40 % of 10 000), 1 000 are left available
    assert shown_on_deal(RETAIL, asked, effects, 1_000_00) == Shown(1_000_00, 4_000_00, 4_000_00, 0)
    lost = Deal(7, 0, "lost", 10_000_00, (ANNA,), points_to_pay=5_000_00)
    effects = evaluate_deal(RETAIL, lost, {}, NOW)
    assert shown_on_deal(RETAIL, lost, effects, 5_000_00) == Shown(5_000_00, None, 0, 0)


def test_the_fields_go_in_one_update_only_where_they_differ() -> None:
    won = Deal(7, 0, "won", 10_000_00, (ANNA,), closed_at=NOW)
    effects = evaluate_deal(RETAIL, won, {}, NOW)
    shown = shown_on_deal(RETAIL, won, effects, 500_00)
    write = deal_update(RETAIL, {}, won, shown)
    assert write is not None
    assert (write.key, write.method) == ("deal:7:fields", "crm.deal.update")
    # an empty field shows 0: paid 0 is not written, nor the cap of a closed deal
    assert write.params["fields"] == {"UF_CRM_KOP_DEAL_BALANCE": "500", "UF_CRM_KOP_EARNED": "500"}
    # the portal shows numbers its own way: nothing to write
    record = {"UF_CRM_KOP_DEAL_BALANCE": 500.0, "UF_CRM_KOP_EARNED": "500.00"}
    assert deal_update(RETAIL, record, won, shown) is None


def test_the_transfer_and_the_points_share_the_write() -> None:
    both = TRAVEL.model_copy(update={"fields": RETAIL.fields})  # a transfer and points fields
    row = ProductRow(3, "Тур в Казань", 50_000_00, properties={"PROPERTY_HOTEL": "Ривьера"})
    trip = Deal(7, 1, "process", 50_000_00, (ANNA,), rows=(row,))
    write = deal_update(both, {}, trip, Shown(1_000_00, 1_000_00, 0, 0))
    assert write is not None
    fields = write.params["fields"]
    assert fields["TITLE"] == "Тур в Казань"
    assert (fields[FIELDS[0]], fields[FIELDS[1]]) == ("1000", "1000")
    assert deal_update(TRAVEL, {}, trip, Shown(1_000_00, 1_000_00, 0, 0)) == deal_update(
        TRAVEL, {}, trip, None
    )  # a program that maps no points field writes only the transfer
