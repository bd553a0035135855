"""Products: legacy ``crm.product.*``/``crm.productsection.list`` and ``catalog.*`` (§7.9)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from b24emu import entities, product_properties
from b24emu.entities import Kind
from b24emu.errors import ApiError, legacy
from b24emu.listing import legacy_page, matches, modern_page, order_rows, parse_filter
from b24emu.params import as_list, get_ci
from b24emu.registry import Call, method
from b24emu.schema import PRODUCT_FIELDS
from b24emu.wire import money, number, to_int

if TYPE_CHECKING:
    from b24emu.portal import Portal

PRODUCT = Kind("PRODUCT", "CRM_PRODUCT", tuple(PRODUCT_FIELDS), "products", 0)
CATALOG_NAME = "Каталог товаров CRM"
MEASURE_PCS = 5


def add_section(
    portal: Portal, name: str, parent_id: int | None = None, xml_id: str | None = None
) -> int:
    section_id = portal.next_id("section")
    portal.sections[section_id] = {
        "id": section_id,
        "iblockId": portal.catalog_iblock_id,
        "iblockSectionId": parent_id,
        "name": name,
        "xmlId": xml_id or str(section_id),
        "code": None,
        "sort": 500,
        "active": "Y",
        "description": "",
        "descriptionType": "text",
    }
    return section_id


def add_product(portal: Portal, fields: dict[str, Any], user_id: int = 1) -> int:
    changes = entities.internalize(portal, PRODUCT, fields, creating=True)
    product_id = portal.next_id("product")
    now = portal.now_str()
    record = entities.blank(portal, PRODUCT)
    record.update(
        {
            "ID": str(product_id),
            "CATALOG_ID": str(portal.catalog_iblock_id),
            "PRICE": money(0),
            "CURRENCY_ID": portal.currency,
            "DESCRIPTION": "",
            "DESCRIPTION_TYPE": "text",
            "ACTIVE": "Y",
            "SORT": "500",
            "VAT_INCLUDED": "Y",
            "MEASURE": str(MEASURE_PCS),
            "XML_ID": str(product_id),
            "DATE_CREATE": now,
            "TIMESTAMP_X": now,
            "CREATED_BY": str(user_id),
            "MODIFIED_BY": str(user_id),
        }
    )
    record.update(changes)
    product_properties.write(portal, record, fields)
    portal.products[product_id] = record
    portal.events.emit("ONCRMPRODUCTADD", {"ID": product_id}, user_id)
    return product_id


def add_product_property(
    portal: Portal,
    code: str,
    name: str,
    property_type: str = "S",
    user_type: str | None = None,
    multiple: bool = False,
) -> int:
    """A catalog product property (as ``crm.product.property.add`` makes it); returns its id.

    Dates are ``property_type="S", user_type="Date"``. Values go into products as
    ``PROPERTY_{id}`` via :func:`add_product` or ``crm.product.add/update``.
    """
    return product_properties.create(
        portal,
        {
            "CODE": code,
            "NAME": name,
            "PROPERTY_TYPE": property_type,
            "USER_TYPE": user_type,
            "MULTIPLE": "Y" if multiple else "N",
        },
    )


def _product(call: Call) -> int:
    product_id = entities.require_id(call.params)
    if product_id not in call.portal.products:
        raise legacy("Not found")
    return product_id


@method("crm.product.fields", "crm")
def product_fields(call: Call) -> Any:
    result = entities.describe_fields(call.portal, PRODUCT)
    result.update(product_properties.describe(call.portal))
    return result


@method("crm.product.add", "crm")
def product_add(call: Call) -> Any:
    return add_product(call.portal, entities.fields_param(call.params), call.user_id)


@method("crm.product.get", "crm")
def product_get(call: Call) -> Any:
    record = call.portal.products[_product(call)]
    row = entities.full(call.portal, PRODUCT, record)
    product_properties.render(call.portal, record, row, None)  # get selects PROPERTY_*
    return row


@method("crm.product.list", "crm")
def product_list(call: Call) -> Any:
    """Legacy list; ``PROPERTY_*``/``PROPERTY_{id}`` in ``select`` add property values.

    As ``CCrmProductRestProxy::getList``: ``*`` without property entries means all properties
    too; property entries alone select ``ID`` plus them; no select means no properties.
    """
    raw_select = get_ci(call.params, "select")
    wanted: list[str] | None = []
    if isinstance(raw_select, (list, dict)) and raw_select:
        names = [v for v in as_list(raw_select) if isinstance(v, str)]
        props = [v for v in names if v == "PROPERTY_*" or product_properties.PROPERTY_KEY.match(v)]
        rest = [v for v in names if v not in props]
        if props:
            wanted = None if "PROPERTY_*" in props else props
        elif "*" in rest:
            wanted = None
        params = dict(call.params)
        for k in [k for k in params if isinstance(k, str) and k.lower() == "select"]:
            del params[k]
        params["select"] = rest or ["ID"]
        call = Call(call.portal, call.method, params, call.auth, call.start, call.extra)
    page = entities.legacy_list(
        call, PRODUCT, extra_resolve=product_properties.resolver(call.portal)
    )
    if wanted is None or wanted:
        for row in page.result:
            record = call.portal.products[int(row["ID"])]
            product_properties.render(call.portal, record, row, wanted)
    return page


@method("crm.product.update", "crm")
def product_update(call: Call) -> Any:
    product_id = _product(call)
    record = call.portal.products[product_id]
    fields = entities.fields_param(call.params)
    record.update(entities.internalize(call.portal, PRODUCT, fields, creating=False))
    product_properties.write(call.portal, record, fields)
    record["TIMESTAMP_X"] = call.portal.now_str()
    record["MODIFIED_BY"] = str(call.user_id)
    call.portal.events.emit("ONCRMPRODUCTUPDATE", {"ID": product_id}, call.user_id)
    return True


@method("crm.product.delete", "crm")
def product_delete(call: Call) -> Any:
    product_id = _product(call)
    del call.portal.products[product_id]
    call.portal.events.emit("ONCRMPRODUCTDELETE", {"ID": product_id}, call.user_id)
    return True


def _legacy_section(section: dict[str, Any]) -> dict[str, Any]:
    parent = section["iblockSectionId"]
    return {
        "ID": str(section["id"]),
        "CATALOG_ID": str(section["iblockId"]),
        "SECTION_ID": None if parent is None else str(parent),
        "NAME": section["name"],
        "XML_ID": section["xmlId"],
        "CODE": section["code"],
    }


def _str_resolver(numeric: frozenset[str]) -> Any:
    def resolve(row: dict[str, Any], field: str) -> tuple[Any, str] | None:
        if field not in row:
            return None
        return row[field], "num" if field in numeric else "str"

    return resolve


@method("crm.productsection.list", "crm")
def productsection_list(call: Call) -> Any:
    portal = call.portal
    resolve = _str_resolver(frozenset({"ID", "CATALOG_ID", "SECTION_ID"}))
    rows = [_legacy_section(s) for _, s in sorted(portal.sections.items())]
    group = parse_filter(get_ci(call.params, "filter") or {})
    rows = [r for r in rows if matches(r, group, resolve, portal.tz)]
    rows = order_rows(rows, get_ci(call.params, "order") or {}, resolve, portal.tz)
    return legacy_page(rows, call.start)


@method("crm.productsection.get", "crm")
def productsection_get(call: Call) -> Any:
    section = call.portal.sections.get(to_int(get_ci(call.params, "id")))
    if section is None:
        raise legacy("Not found")
    return _legacy_section(section)


@method("crm.productsection.add", "crm")
def productsection_add(call: Call) -> Any:
    fields = entities.fields_param(call.params)
    name = get_ci(fields, "NAME")
    if not name:
        raise legacy("The field NAME is required.")
    parent = to_int(get_ci(fields, "SECTION_ID")) or None
    if parent is not None and parent not in call.portal.sections:
        raise legacy("Parent section is not found.")
    section_id = add_section(call.portal, str(name), parent, get_ci(fields, "XML_ID"))
    call.portal.events.emit("ONCRMPRODUCTSECTIONADD", {"ID": section_id}, call.user_id)
    return section_id


@method("crm.productsection.update", "crm")
def productsection_update(call: Call) -> Any:
    """``NAME``, ``XML_ID`` and ``SECTION_ID`` (the parent: a section moves with its subtree)."""
    section_id = to_int(get_ci(call.params, "id"))
    section = call.portal.sections.get(section_id)
    if section is None:
        raise legacy("Not found")
    fields = entities.fields_param(call.params)
    if get_ci(fields, "NAME"):
        section["name"] = str(get_ci(fields, "NAME"))
    if get_ci(fields, "XML_ID"):
        section["xmlId"] = str(get_ci(fields, "XML_ID"))
    if any(k.upper() == "SECTION_ID" for k in fields):
        parent = to_int(get_ci(fields, "SECTION_ID")) or None
        ancestor = parent
        while ancestor is not None:  # never under itself or its own subsection
            if ancestor == section_id or ancestor not in call.portal.sections:
                raise legacy("Parent section is not found.")
            ancestor = call.portal.sections[ancestor]["iblockSectionId"]
        section["iblockSectionId"] = parent
    call.portal.events.emit("ONCRMPRODUCTSECTIONUPDATE", {"ID": section_id}, call.user_id)
    return True


# -- catalog.* (controllers: camelCase, real numbers, numeric error codes) ---------------------
def _modern_product(portal: Portal, record: dict[str, Any]) -> dict[str, Any]:
    section = record.get("SECTION_ID")
    return {
        "id": int(record["ID"]),
        "iblockId": int(record["CATALOG_ID"]),
        "iblockSectionId": to_int(section) if section else None,
        "name": record["NAME"],
        "active": record["ACTIVE"],
        "available": "Y",
        "code": record.get("CODE"),
        "xmlId": record.get("XML_ID"),
        "type": 1,
        "measure": to_int(record.get("MEASURE")),
        "vatId": to_int(record["VAT_ID"]) if record.get("VAT_ID") else None,
        "vatIncluded": record.get("VAT_INCLUDED") or "N",
        "purchasingPrice": None,
        "purchasingCurrency": None,
        "quantity": 0,
        "sort": to_int(record.get("SORT"), 500),
        "dateCreate": record["DATE_CREATE"],
        "timestampX": record["TIMESTAMP_X"],
        "createdBy": to_int(record.get("CREATED_BY")),
        "modifiedBy": to_int(record.get("MODIFIED_BY")),
    }


def _modern_list(call: Call, rows: list[dict[str, Any]], wrap: str, need_select: bool) -> Any:
    portal = call.portal
    raw = get_ci(call.params, "filter")
    if not isinstance(raw, dict) or "iblockId" not in {k.lstrip("=") for k in raw}:
        raise ApiError(0, "Required filter fields: iblockId")
    select = [str(s) for s in as_list(get_ci(call.params, "select"))]
    if need_select and not ({"id", "iblockId"} <= set(select) or "*" in select):
        raise ApiError(0, "Required select fields: id, iblockId")

    def resolve(row: dict[str, Any], field: str) -> tuple[Any, str] | None:
        if field not in row:
            return None
        value = row[field]
        return value, "num" if isinstance(value, (int, float)) or value is None else "str"

    group = parse_filter(raw)
    rows = [r for r in rows if matches(r, group, resolve, portal.tz)]
    rows = order_rows(rows, get_ci(call.params, "order") or {"id": "asc"}, resolve, portal.tz)
    page = modern_page(rows, call.start, wrap)
    if select and "*" not in select:
        page.result[wrap] = [{k: v for k, v in r.items() if k in select} for r in page.result[wrap]]
    return page


@method("catalog.product.list", "catalog")
def catalog_product_list(call: Call) -> Any:
    portal = call.portal
    rows = [_modern_product(portal, r) for _, r in sorted(portal.products.items())]
    return _modern_list(call, rows, "products", need_select=True)


@method("catalog.product.get", "catalog")
def catalog_product_get(call: Call) -> Any:
    product_id = to_int(get_ci(call.params, "id"))
    if product_id <= 0:
        raise ApiError(0, "Required parameter: id")
    record = call.portal.products.get(product_id)
    if record is None:
        raise ApiError(200040300040, "Product is not exists")
    return {"product": _modern_product(call.portal, record)}


@method("catalog.section.list", "catalog")
def catalog_section_list(call: Call) -> Any:
    rows = [dict(s) for _, s in sorted(call.portal.sections.items())]
    return _modern_list(call, rows, "sections", need_select=False)


@method("catalog.section.get", "catalog")
def catalog_section_get(call: Call) -> Any:
    section = call.portal.sections.get(to_int(get_ci(call.params, "id")))
    if section is None:
        raise ApiError(200040300040, "Section is not exists")
    return {"section": dict(section)}


@method("catalog.catalog.list", "catalog")
def catalog_list(call: Call) -> Any:
    iblock = call.portal.catalog_iblock_id
    return modern_page(
        [
            {
                "iblockId": iblock,
                "iblockTypeId": "CRM_PRODUCT_CATALOG",
                "id": iblock,
                "lid": "s1",
                "name": CATALOG_NAME,
                "productIblockId": None,
                "skuPropertyId": None,
                "subscription": "N",
                "vatId": None,
            }
        ],
        call.start,
        "catalogs",
    )


@method("catalog.price.list", "catalog")
def catalog_price_list(call: Call) -> Any:
    portal = call.portal
    rows = [
        {
            "catalogGroupId": 1,
            "currency": r["CURRENCY_ID"],
            "id": int(r["ID"]),
            "price": number(r["PRICE"]),
            "productId": int(r["ID"]),
        }
        for _, r in sorted(portal.products.items())
    ]
    group = parse_filter(get_ci(call.params, "filter") or {})
    rows = [
        r
        for r in rows
        if matches(r, group, lambda r, f: (r[f], "num") if f in r else None, portal.tz)
    ]
    return modern_page(rows, call.start, "prices")
