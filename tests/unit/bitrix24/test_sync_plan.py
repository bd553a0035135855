"""The sync's plan for a deal is pure (no database, no portal): the discount on the rows, the
product's data copied into the deal, the contacts' shares and the snapshot follow from the deal
as read, and nothing is written where the portal already shows it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

from kopilka.bitrix24.mapping import Row
from kopilka.bitrix24.sync.plan import (
    deal_update,
    plan_deleted,
    plan_outcome,
    rows_write,
    share_rows,
)
from kopilka.domain.deal import Contact, Deal, ProductRow
from kopilka.domain.deal_codec import decode
from kopilka.program.loader import load_program

EXAMPLES = Path(__file__).parents[3] / "examples"
RETAIL = load_program(EXAMPLES / "retail-wholesale.yaml")
TRAVEL = load_program(EXAMPLES / "travel-club.yaml")
CLOSED = datetime(2026, 6, 1, 12, tzinfo=UTC)
WON = {"STAGE_SEMANTIC_ID": "S", "CATEGORY_ID": "0", "STAGE_ID": "WON", "CLOSEDATE": None}


def rows(*prices: str) -> list[Row]:
    return [
        Row({"productId": n, "productName": f"товар {n}", "price": p, "quantity": 1})
        for n, p in enumerate(prices, start=1)
    ]


def deal(stage: str = "won", *contacts: int, amount: int = 10_000_00) -> Deal:
    people = tuple(Contact(c, "CLIENT", is_primary=i == 0) for i, c in enumerate(contacts or (5,)))
    return Deal(
        7,
        0,
        stage,  # type: ignore[arg-type]
        amount,
        people,
        rows=(ProductRow(1, "товар 1", amount),),
        closed_at=CLOSED if stage == "won" else None,
    )


def test_a_points_payment_becomes_a_discount_on_the_rows_once() -> None:
    write, applied = rows_write(7, WON, rows("6000", "4000"), {}, 1_000_00)
    assert write is not None
    assert (write.key, write.method, write.idempotent) == (
        "deal:7:rows",
        "crm.deal.productrows.set",
        True,
    )
    sent = write.params["rows"]
    assert sum(Decimal(str(r["DISCOUNT_SUM"])) for r in sent) == 1000  # roubles, both rows
    assert [unit for unit, _final in applied.values()] == [600_00, 400_00]  # by line total
    # The portal now shows the discounted prices: planning again asks for nothing.
    shown = [
        Row({**r.raw, "price": str(Decimal(final) / 100)})
        for r, (_unit, final) in zip(rows("6000", "4000"), applied.values(), strict=True)
    ]
    again, kept = rows_write(7, WON, shown, applied, 1_000_00)
    assert again is None
    assert kept == applied


def test_a_lost_deal_keeps_its_rows() -> None:
    lost = {**WON, "STAGE_SEMANTIC_ID": "F"}
    assert rows_write(7, lost, rows("6000"), {}, 1_000_00) == (None, {})


def test_the_product_is_copied_into_an_open_deal_only_where_it_differs() -> None:
    row = ProductRow(3, "Тур в Казань", 50_000_00, properties={"PROPERTY_HOTEL": "Ривьера"})
    open_deal = Deal(7, 1, "process", 50_000_00, (Contact(5),), rows=(row,))
    write = deal_update(TRAVEL, {"TITLE": "Заказ", "UF_CRM_HOTEL": "Ривьера"}, open_deal, None)
    assert write is not None
    assert write.params["fields"]["TITLE"] == "Тур в Казань"
    assert "UF_CRM_HOTEL" not in write.params["fields"]  # the deal already shows it
    shown = {"TITLE": "Тур в Казань", **write.params["fields"], "UF_CRM_HOTEL": "Ривьера"}
    assert deal_update(TRAVEL, shown, open_deal, None) is None
    # a won deal only gets the copies it is missing: what it shows is never changed
    won = Deal(7, 1, "won", 50_000_00, (Contact(5),), rows=(row,), closed_at=CLOSED)
    filled = deal_update(TRAVEL, {"TITLE": "Заказ", "UF_CRM_HOTEL": ""}, won, None)
    assert filled is not None
    assert filled.params["fields"] == {"UF_CRM_HOTEL": "Ривьера"}
    assert deal_update(TRAVEL, {"TITLE": "Заказ", "UF_CRM_HOTEL": "Другой"}, won, None) is None
    lost = Deal(7, 1, "lost", 50_000_00, (Contact(5),), rows=(row,), closed_at=CLOSED)
    assert deal_update(TRAVEL, {}, lost, None) is None  # a lost deal is left as it is


def test_shares_exist_while_the_deal_is_won() -> None:
    shares = share_rows(RETAIL, 7, deal("won", 5, 6))
    assert sum(s["amount"] for s in shares) == 10_000_00
    assert {s["contact_id"] for s in shares} == {5, 6}
    assert share_rows(RETAIL, 7, deal("process", 5)) == ()
    assert share_rows(RETAIL, 7, None) == ()


def test_the_outcome_of_a_won_deal_and_of_a_deleted_one() -> None:
    outcome = plan_outcome(
        RETAIL,
        deal("won", 5),
        WON,
        rows("10000"),
        applied={},
        discount=0,
        previous=None,
        won_sections={"1": None},
    )
    assert outcome.writes == ()  # no payment, no transfer: nothing to write
    assert outcome.snapshot["semantic"] == "S"
    assert outcome.snapshot["contact_ids"] == [5]
    # what the engine saw, recorded for a what-if replay (issue 14)
    assert decode(outcome.snapshot["engine_input"]) == deal("won", 5)
    assert [s["amount"] for s in outcome.shares] == [10_000_00]
    before = SimpleNamespace(
        contact_ids=[5],
        applied_discount={},
        category_id=0,
        stage_id="WON",
        amount=10_000_00,
        closed_at=CLOSED,
        modified_at=CLOSED,
        engine_input=outcome.snapshot["engine_input"],
    )
    gone = plan_deleted(7, before)
    assert (gone.snapshot["semantic"], gone.snapshot["amount"]) == ("D", 10_000_00)
    assert gone.snapshot["engine_input"] == before.engine_input  # what was last seen
    assert (gone.shares, gone.writes) == ((), ())
