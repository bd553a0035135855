"""The portal's formats and the points discount on product rows."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kopilka.bitrix24.mapping import (
    Row,
    applied_total,
    base_prices,
    build_deal,
    from_kopecks,
    record,
    rows_for_write,
    signatures,
    spread_discount,
    to_kopecks,
)


def row(
    rid: int, price: str, qty: float = 1, product: int = 7, name: str = "Товар", **kw: object
) -> Row:
    return Row(
        {
            "id": rid,
            "ownerId": 1,
            "productId": product,
            "productName": name,
            "price": price,
            "quantity": qty,
            "discountSum": kw.get("discount", 0),
            "sort": rid,
        }
    )


@pytest.mark.parametrize(
    ("raw", "kopecks"),
    [("10000.00", 1_000_000), ("0", 0), ("", 0), (None, 0), (12.5, 1250), ("1 234,56", 123_456)],
)
def test_amounts_in_kopecks(raw: object, kopecks: int) -> None:
    assert to_kopecks(raw) == kopecks


def test_bad_amount_is_refused() -> None:
    with pytest.raises(ValueError, match="not an amount"):
        to_kopecks("abc")


def test_amounts_are_written_with_two_decimals() -> None:
    assert from_kopecks(400_000) == "4000.00"
    assert from_kopecks(5) == "0.05"


def test_identical_rows_keep_distinct_signatures() -> None:
    sigs = signatures([row(1, "10"), row(2, "10")])
    assert len(set(sigs)) == 2


def test_s1_discount_on_one_row() -> None:
    rows = [row(1, "10000.00")]
    prices = base_prices(rows, {})
    discount = spread_discount(rows, prices, 400_000)
    assert spread_total(rows, discount) == 400_000
    written = rows_for_write(rows, prices, discount)
    assert written[0]["PRICE"] == "6000.00"
    assert written[0]["DISCOUNT_SUM"] == "4000.00"
    assert written[0]["DISCOUNT_TYPE_ID"] == 1


def test_prices_before_points_are_recovered_after_the_discount() -> None:
    # the portal now shows the discounted row; Kopilka's record restores the price before points
    discounted = [row(9, "6000.00", discount="4000.00")]
    sig = signatures(discounted)[0]
    applied = record(discounted, [1_000_000], {sig: 400_000})
    assert applied == {sig: [400_000, 600_000]}
    assert base_prices(discounted, applied) == [1_000_000]
    assert applied_total(discounted, applied) == 400_000
    # lifting the discount writes the row's own discount back (none here)
    written = rows_for_write(discounted, [1_000_000], {})
    assert written[0]["PRICE"] == "10000.00"
    assert written[0]["DISCOUNT_SUM"] == "0.00"


def test_own_row_discount_is_kept_under_ours() -> None:
    rows = [row(1, "900.00", discount="100.00")]  # the manager's own 100 ₽ discount
    written = rows_for_write(rows, [90_000], {signatures(rows)[0]: 30_000})
    assert written[0]["PRICE"] == "600.00"
    assert written[0]["DISCOUNT_SUM"] == "400.00"


@given(
    prices=st.lists(st.integers(min_value=1, max_value=10_000_00), min_size=1, max_size=6),
    qtys=st.lists(st.integers(min_value=1, max_value=5), min_size=6, max_size=6),
    share=st.integers(min_value=0, max_value=100),
)
def test_discount_never_exceeds_the_order_nor_a_row(
    prices: list[int], qtys: list[int], share: int
) -> None:
    rows = [
        row(i, str(Decimal(p) / 100), qty=q)
        for i, (p, q) in enumerate(zip(prices, qtys[: len(prices)], strict=True))
    ]
    total = sum(p * r.quantity for p, r in zip(prices, rows, strict=True))
    amount = int(total) * share // 100
    discount = spread_discount(rows, prices, amount)
    given_total = spread_total(rows, discount)
    assert given_total <= amount
    # what is not spread is less than one kopeck per unit of the rows with quantity > 1
    assert amount - given_total <= sum(int(r.quantity) for r in rows if r.quantity != 1)
    for sig, p in zip(signatures(rows), prices, strict=True):
        assert 0 <= discount.get(sig, 0) <= p
    if any(r.quantity == 1 for r in rows):
        assert given_total == amount or all(
            discount.get(s, 0) == p
            for r, s, p in zip(rows, signatures(rows), prices, strict=True)
            if r.quantity == 1
        )


def spread_total(rows: list[Row], discount: dict[str, int]) -> int:
    return sum(
        int(discount.get(s, 0) * r.quantity) for r, s in zip(rows, signatures(rows), strict=True)
    )


def test_a_discount_that_never_landed_is_not_taken_for_one() -> None:
    # Kopilka queued 4 000 off, but the write failed: the row still shows 10 000.
    rows = [row(1, "10000.00")]
    applied = {signatures(rows)[0]: [400_000, 600_000]}
    assert base_prices(rows, applied) == [1_000_000]
    assert applied_total(rows, applied) == 0
    # and a manager who re-priced the discounted row to 7 000 gets 7 000 as the new base
    repriced = [row(1, "7000.00", discount="4000.00")]
    assert base_prices(repriced, applied) == [700_000]


def test_build_deal_reads_the_portal_strings() -> None:
    deal = {
        "ID": "15",
        "CATEGORY_ID": "1",
        "STAGE_SEMANTIC_ID": "S",
        "OPPORTUNITY": "6000.00",
        "CONTACT_ID": "3",
        "COMPANY_ID": "0",
        "UF_CRM_KOP_PAY_POINTS": "5000",
        "CLOSEDATE": "2026-11-23T03:00:00+03:00",
    }
    rows = [row(1, "6000.00")]
    applied = {signatures(rows)[0]: [400_000, 600_000]}
    built = build_deal(
        deal, [3, 4], {3: {"TYPE_ID": "CLIENT"}}, rows, applied, pay_field="UF_CRM_KOP_PAY_POINTS"
    )
    assert built.stage == "won"
    assert built.pipeline_id == 1
    assert built.company_id is None
    assert built.opportunity == 1_000_000
    assert built.rows[0].price == 1_000_000
    assert built.points_to_pay == 500_000
    assert [c.is_primary for c in built.contacts] == [True, False]
    assert built.contacts[0].type_id == "CLIENT"
    assert built.closed_at is not None
    assert built.closed_at.utcoffset() is not None
