"""Bitrix24 records ↔ the engine's values: parsing the portal's strings, and the points discount
Kopilka puts on a deal's product rows.

Pure functions: no I/O, so every quirk of the portal's formats is unit-tested here.

Product rows come from ``crm.item.productrow.list`` (camelCase, real JSON numbers); the discount is
written back with ``crm.deal.productrows.set`` (UPPERCASE). The portal keeps no memory of *why* a
row is discounted, so Kopilka records its own per-unit discount per row signature in
``b24_deals.applied_discount``: per row signature, the per-unit discount and the final price it
wrote. The record counts only while the row still shows that price: a write that never landed (or
a row the manager re-priced) leaves the row's price as the price before points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from kopilka.domain.deal import Contact, Deal, ProductRow, StageSemantic

SEMANTICS: dict[str, StageSemantic] = {"P": "process", "S": "won", "F": "lost"}


def to_kopecks(value: Any) -> int:
    """A portal amount ("10000.00", 10000, "", None) in kopecks; blanks are 0."""
    if value is None or value == "" or value is False:
        return 0
    try:
        amount = Decimal(str(value).replace(" ", "").replace(",", "."))
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    return int((amount * 100).to_integral_value())


def from_kopecks(amount: int) -> str:
    """Kopecks as the portal writes amounts: "4000.00"."""
    sign = "-" if amount < 0 else ""
    whole, part = divmod(abs(amount), 100)
    return f"{sign}{whole}.{part:02d}"


def to_int(value: Any) -> int | None:
    if value is None or value == "" or value is False:
        return None
    return int(str(value))


def parse_datetime(value: Any) -> datetime | None:
    """The portal's ISO datetimes carry their offset ("2026-11-23T15:04:05+03:00")."""
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo is not None else None


def semantic_of(deal: Mapping[str, Any]) -> StageSemantic:
    return SEMANTICS.get(str(deal.get("STAGE_SEMANTIC_ID") or "P"), "process")


@dataclass(frozen=True, slots=True)
class Row:
    """One product row as read (camelCase fields kept for writing it back)."""

    raw: Mapping[str, Any]

    @property
    def signature(self) -> str:
        r = self.raw
        return f"{r.get('productId') or 0}|{r.get('productName') or ''}|{r.get('quantity')}"

    @property
    def quantity(self) -> Decimal:
        return Decimal(str(self.raw.get("quantity") or 0))

    @property
    def price(self) -> int:
        """The row's current final price per unit, in kopecks."""
        return to_kopecks(self.raw.get("price"))


def signatures(rows: Sequence[Row]) -> list[str]:
    """Row signatures made unique by their occurrence (two identical rows stay distinct)."""
    seen: dict[str, int] = {}
    out = []
    for row in rows:
        n = seen.get(row.signature, 0)
        seen[row.signature] = n + 1
        out.append(f"{row.signature}#{n}")
    return out


Applied = Mapping[str, Sequence[int]]  # signature -> [per-unit discount, final price written]


def present(rows: Sequence[Row], applied: Applied) -> dict[str, int]:
    """Kopilka's per-unit discount that the rows really carry now."""
    out: dict[str, int] = {}
    for row, sig in zip(rows, signatures(rows), strict=True):
        record = applied.get(sig)
        if record and len(record) == 2 and row.price == int(record[1]):
            out[sig] = int(record[0])
    return out


def record(
    rows: Sequence[Row], prices: Sequence[int], discount: Mapping[str, int]
) -> dict[str, list[int]]:
    """What to remember of a discount written with :func:`rows_for_write`."""
    return {
        sig: [int(discount[sig]), base - int(discount[sig])]
        for sig, base in zip(signatures(rows), prices, strict=True)
        if discount.get(sig)
    }


def base_prices(rows: Sequence[Row], applied: Applied) -> list[int]:
    """Per-unit prices before Kopilka's points discount."""
    ours = present(rows, applied)
    return [row.price + ours.get(sig, 0) for row, sig in zip(rows, signatures(rows), strict=True)]


def applied_total(rows: Sequence[Row], applied: Applied) -> int:
    ours = present(rows, applied)
    total = Decimal(0)
    for row, sig in zip(rows, signatures(rows), strict=True):
        total += Decimal(ours.get(sig, 0)) * row.quantity
    return int(total)


def spread_discount(rows: Sequence[Row], prices: Sequence[int], amount: int) -> dict[str, int]:
    """Per-unit discounts (kopecks) by row signature summing to ``amount`` over the rows'
    quantities, in proportion to each line's total; what cannot be spread in whole kopecks per
    unit goes to the rows with quantity 1, largest first. Never below a zero price."""
    sigs = signatures(rows)
    lines = [int(Decimal(p) * r.quantity) for p, r in zip(prices, rows, strict=True)]
    total = sum(lines)
    if amount <= 0 or total <= 0:
        return {}
    amount = min(amount, total)
    per_unit: dict[str, int] = {}
    given = 0
    for sig, row, line, price in zip(sigs, rows, lines, prices, strict=True):
        qty = row.quantity
        if qty <= 0:
            continue
        share = amount * line // total
        unit = min(int(Decimal(share) / qty), price)
        per_unit[sig] = unit
        given += int(unit * qty)
    left = amount - given
    for sig, row, price in sorted(
        zip(sigs, rows, prices, strict=True), key=lambda t: -t[2] if t[1].quantity == 1 else 0
    ):
        if left <= 0 or row.quantity != 1:
            continue
        extra = min(left, price - per_unit.get(sig, 0))
        per_unit[sig] = per_unit.get(sig, 0) + extra
        left -= extra
    return {sig: unit for sig, unit in per_unit.items() if unit}


def rows_for_write(
    rows: Sequence[Row], prices: Sequence[int], discount: Mapping[str, int]
) -> list[dict[str, Any]]:
    """The rows for ``crm.deal.productrows.set`` with Kopilka's discount applied on top of the
    row's own discount (an absolute per-unit ``DISCOUNT_SUM``)."""
    out = []
    for row, sig, base in zip(rows, signatures(rows), prices, strict=True):
        r = row.raw
        own_before = to_kopecks(r.get("discountSum"))
        ours_before = base - row.price  # the part of the row's discount that is Kopilka's
        ours = int(discount.get(sig, 0))
        own = max(own_before - ours_before, 0)
        final = base - ours
        written: dict[str, Any] = {
            "PRODUCT_ID": r.get("productId") or 0,
            "PRODUCT_NAME": r.get("productName") or "",
            "PRICE": from_kopecks(final),
            "QUANTITY": str(r.get("quantity")),
            "DISCOUNT_TYPE_ID": 1,
            "DISCOUNT_SUM": from_kopecks(own + ours),
            "TAX_RATE": r.get("taxRate"),
            "TAX_INCLUDED": r.get("taxIncluded") or "N",
            "MEASURE_CODE": r.get("measureCode"),
            "SORT": r.get("sort"),
        }
        out.append({k: v for k, v in written.items() if v is not None})
    return out


def build_deal(
    deal: Mapping[str, Any],
    contact_ids: Sequence[int],
    contacts: Mapping[int, Mapping[str, Any]],
    rows: Sequence[Row],
    applied: Applied,
    *,
    pay_field: str | None,
    now: datetime | None = None,
) -> Deal:
    """The engine's view of a deal: product rows at their prices before points.

    ``CLOSEDATE`` is a *date* field: the portal writes it as that day at the offset's hour, which
    can be hours ahead of now on the day itself; a close date is never taken to be in the future.
    """
    deal_id = int(deal["ID"])
    primary = to_int(deal.get("CONTACT_ID"))
    ids = list(contact_ids) or ([primary] if primary else [])
    prices = base_prices(rows, applied)
    product_rows = tuple(
        ProductRow(
            product_id=to_int(row.raw.get("productId")),
            name=str(row.raw.get("productName") or ""),
            price=price,
            quantity=int(row.quantity) if row.quantity == int(row.quantity) else 1,
        )
        for row, price in zip(rows, prices, strict=True)
    )
    opportunity = to_kopecks(deal.get("OPPORTUNITY")) + applied_total(rows, applied)
    return Deal(
        id=deal_id,
        pipeline_id=to_int(deal.get("CATEGORY_ID")) or 0,
        stage=semantic_of(deal),
        opportunity=opportunity,
        contacts=tuple(
            contact_of(cid, contacts.get(cid, {}), is_primary=cid == (primary or ids[0]))
            for cid in ids
        ),
        company_id=to_int(deal.get("COMPANY_ID")) or None,
        rows=product_rows,
        points_to_pay=to_kopecks(deal.get(pay_field)) if pay_field else 0,
        closed_at=_not_after(parse_datetime(deal.get("CLOSEDATE")), now),
        fields={k: v for k, v in deal.items() if k.startswith("UF_")},
    )


def _not_after(moment: datetime | None, now: datetime | None) -> datetime | None:
    if moment is None or now is None:
        return moment
    return min(moment, now)


def contact_of(contact_id: int, record: Mapping[str, Any], *, is_primary: bool) -> Contact:
    return Contact(
        id=contact_id,
        type_id=str(record["TYPE_ID"]) if record.get("TYPE_ID") else None,
        fields={k: v for k, v in record.items() if k.startswith("UF_")},
        is_primary=is_primary,
    )
