"""Deal product rows: ``crm.deal.productrows.*`` and ``crm.item.productrow.list`` (§7.3)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from b24emu.crm_deals import get_deal, touch
from b24emu.errors import ApiError, core, legacy
from b24emu.listing import matches, modern_page, order_rows, parse_filter
from b24emu.params import as_list, get_ci
from b24emu.registry import Call, method
from b24emu.wire import money, number, to_decimal, to_int, yn

if TYPE_CHECKING:
    from b24emu.portal import Portal

ZERO = Decimal(0)
HUNDRED = Decimal(100)


def _dec(raw: dict[str, Any], key: str) -> Decimal | None:
    return to_decimal(raw[key]) if raw.get(key) not in (None, "") else None


def build_row(portal: Portal, deal_id: int, raw: dict[str, Any]) -> dict[str, Any]:
    """One row as stored (the ``crm.deal.productrows.get`` shape); validates discounts."""
    raw = {str(k).upper(): v for k, v in raw.items()}
    dtype_raw = raw.get("DISCOUNT_TYPE_ID")
    dtype = to_int(dtype_raw, 2) if dtype_raw not in (None, "") else None
    if dtype is not None and dtype not in (1, 2):
        raise core(
            f"Discount type ID (DISCOUNT_TYPE_ID) '{dtype}' is not supported in current context."
        )
    rate_in, sum_in = _dec(raw, "DISCOUNT_RATE"), _dec(raw, "DISCOUNT_SUM")
    if dtype == 1 and sum_in is None:
        raise core(
            "Discount Sum (DISCOUNT_SUM) is required if Monetary Discount Type "
            "(DISCOUNT_TYPE_ID) is defined."
        )
    if dtype == 2 and rate_in is None:
        raise core(
            "Discount Rate (DISCOUNT_RATE) is required if Percentage Discount Type "
            "(DISCOUNT_TYPE_ID) is defined."
        )
    if dtype == 2 and rate_in == HUNDRED and sum_in is None:
        raise core(
            "Discount Sum (DISCOUNT_SUM) is required if Percentage Discount Type "
            "(DISCOUNT_TYPE_ID) is defined and Discount Rate (DISCOUNT_RATE) is 100%"
        )
    dtype = dtype or 2
    tax_rate = _dec(raw, "TAX_RATE")
    tax = (tax_rate or ZERO) / HUNDRED
    price = _dec(raw, "PRICE")
    if price is None:
        exclusive_in = _dec(raw, "PRICE_EXCLUSIVE")
        price = exclusive_in * (1 + tax) if exclusive_in is not None else ZERO
    exclusive = price / (1 + tax)
    if dtype == 1:
        discount_sum = sum_in or ZERO
        netto = exclusive + discount_sum
        rate = discount_sum / netto * HUNDRED if netto else ZERO
    else:
        rate = rate_in or ZERO
        if rate == HUNDRED:
            discount_sum = sum_in or ZERO
            netto = exclusive + discount_sum
        else:
            netto = exclusive / (1 - rate / HUNDRED)
            discount_sum = netto - exclusive
    product_id = to_int(raw.get("PRODUCT_ID"), 0)
    product = portal.products.get(product_id)
    row_id = portal.next_id("product_row")
    original = product["NAME"] if product else None
    name = str(raw.get("PRODUCT_NAME") or "") or original or f"[{row_id}]"
    measure_code = to_int(raw.get("MEASURE_CODE"), 0) or 796
    quantity = _dec(raw, "QUANTITY")
    return {
        "ID": str(row_id),
        "OWNER_ID": str(deal_id),
        "OWNER_TYPE": "D",
        "PRODUCT_ID": product_id,
        "PRODUCT_NAME": name,
        "ORIGINAL_PRODUCT_NAME": original or name,
        "PRODUCT_DESCRIPTION": raw.get("PRODUCT_DESCRIPTION"),
        "PRICE": number(round(price, 2)),
        "PRICE_EXCLUSIVE": number(round(exclusive, 2)),
        "PRICE_NETTO": number(round(netto, 2)),
        "PRICE_BRUTTO": number(round(netto * (1 + tax), 2)),
        "PRICE_ACCOUNT": money(price),
        "QUANTITY": number(quantity if quantity is not None else 1),
        "DISCOUNT_TYPE_ID": dtype,
        "DISCOUNT_RATE": number(round(rate, 2)),
        "DISCOUNT_SUM": number(round(discount_sum, 2)),
        "TAX_RATE": number(tax_rate) if tax_rate is not None else None,
        "TAX_INCLUDED": yn(raw.get("TAX_INCLUDED")),
        "CUSTOMIZED": "Y",
        "MEASURE_CODE": measure_code,
        "MEASURE_NAME": str(raw.get("MEASURE_NAME") or ("шт" if portal.lang == "ru" else "pcs")),
        "SORT": to_int(raw.get("SORT"), 0),
        "XML_ID": raw.get("XML_ID") or "",
        "TYPE": to_int(raw.get("TYPE"), 1) or 1,
        "STORE_ID": 0,
    }


def sync_owner(portal: Portal, deal_id: int) -> None:
    """Owner sync: OPPORTUNITY/TAX_VALUE from the rows unless manual; skipped for no rows."""
    deal = portal.deals[deal_id]
    rows = portal.product_rows.get(deal_id, [])
    if deal["IS_MANUAL_OPPORTUNITY"] == "Y" or not rows:
        return
    total = sum((Decimal(str(r["PRICE"])) * Decimal(str(r["QUANTITY"])) for r in rows), ZERO)
    tax = sum(
        (
            (Decimal(str(r["PRICE"])) - Decimal(str(r["PRICE_EXCLUSIVE"])))
            * Decimal(str(r["QUANTITY"]))
            for r in rows
        ),
        ZERO,
    )
    deal["OPPORTUNITY"] = money(total)
    deal["TAX_VALUE"] = money(tax)


def set_rows(portal: Portal, deal_id: int, rows: list[dict[str, Any]], user_id: int) -> None:
    built = [build_row(portal, deal_id, r) for r in rows]  # validate all before replacing
    portal.product_rows[deal_id] = built
    sync_owner(portal, deal_id)
    touch(portal, portal.deals[deal_id], user_id)
    portal.events.emit("ONCRMDEALUPDATE", {"ID": deal_id}, user_id)


def _deal_id(call: Call) -> int:
    deal_id = to_int(get_ci(call.params, "id"))
    if deal_id <= 0:
        raise legacy("The parameter id is invalid or not defined.")
    get_deal(call.portal, deal_id)
    return deal_id


@method("crm.deal.productrows.get", "crm")
def productrows_get(call: Call) -> Any:
    deal_id = _deal_id(call)
    return [dict(r) for r in call.portal.product_rows.get(deal_id, [])]


@method("crm.deal.productrows.set", "crm")
def productrows_set(call: Call) -> Any:
    deal_id = _deal_id(call)
    rows = get_ci(call.params, "rows")
    if rows == "":
        rows = []
    if not isinstance(rows, (list, dict)):
        raise legacy("The parameter rows must be array.")
    set_rows(call.portal, deal_id, [r for r in as_list(rows) if isinstance(r, dict)], call.user_id)
    return True


def modern_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": int(row["ID"]),
        "ownerId": int(row["OWNER_ID"]),
        "ownerType": row["OWNER_TYPE"],
        "productId": row["PRODUCT_ID"],
        "productName": row["PRODUCT_NAME"],
        "price": row["PRICE"],
        "priceAccount": number(row["PRICE_ACCOUNT"]),
        "priceExclusive": row["PRICE_EXCLUSIVE"],
        "priceNetto": row["PRICE_NETTO"],
        "priceBrutto": row["PRICE_BRUTTO"],
        "quantity": row["QUANTITY"],
        "discountTypeId": row["DISCOUNT_TYPE_ID"],
        "discountRate": row["DISCOUNT_RATE"],
        "discountSum": row["DISCOUNT_SUM"],
        "taxRate": row["TAX_RATE"],
        "taxIncluded": row["TAX_INCLUDED"],
        "customized": row["CUSTOMIZED"],
        "measureCode": row["MEASURE_CODE"],
        "measureName": row["MEASURE_NAME"],
        "sort": row["SORT"],
        "xmlId": row["XML_ID"],
        "type": row["TYPE"],
        "storeId": row["STORE_ID"],
    }


@method("crm.item.productrow.list", "crm")
def item_productrow_list(call: Call) -> Any:
    portal = call.portal
    raw = get_ci(call.params, "filter")
    if not isinstance(raw, dict) or "=ownerType" not in raw or "=ownerId" not in raw:
        raise ApiError("REQUIRED_ARG_MISSING", "Required filter keys: =ownerType, =ownerId")
    if str(raw["=ownerType"]).upper() != "D":
        raise ApiError("ACCESS_DENIED", "Access denied")
    owner = raw["=ownerId"]
    if isinstance(owner, (list, dict)) and portal.strict_product_rows:
        # the newest docs: "the only key that accepts an array of values is @id"; an array
        # under a prefixed key is INVALID_ARG_VALUE (the description is an approximation)
        raise ApiError("INVALID_ARG_VALUE", "Invalid value of the filter field =ownerId")
    if isinstance(owner, (list, dict)):
        owners = [to_int(o) for o in as_list(owner)]
    else:
        owners = [to_int(owner)]
        if owners[0] not in portal.deals:
            raise ApiError("ACCESS_DENIED", "Access denied")
    rest = {k: v for k, v in raw.items() if k not in ("=ownerType", "=ownerId")}
    group = parse_filter(rest)

    def resolve(row: dict[str, Any], field: str) -> tuple[Any, str] | None:
        if field in ("id", "productId"):
            return row[field], "num"
        return None  # other keys are silently ignored (no index), as the docs say

    rows = [modern_row(r) for o in owners for r in portal.product_rows.get(o, [])]
    rows = [r for r in rows if matches(r, group, resolve, portal.tz)]
    rows.sort(key=lambda r: (r["sort"], r["id"]))
    order = get_ci(call.params, "order")
    if isinstance(order, dict):
        order = {k: v for k, v in order.items() if k in ("id", "sort")}
        rows = order_rows(rows, order, lambda r, f: (r[f], "num"), portal.tz)
    return modern_page(rows, call.start, "productRows")
