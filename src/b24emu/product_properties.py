"""Product properties of the CRM catalog: ``crm.product.property.*`` and ``PROPERTY_{id}`` values.

Facts follow ``CCrmProductPropertyRestProxy`` / ``CCrmProductRestProxy`` in
``crm/classes/general/restservice.php`` (the docs pages of ``crm.product.property.*`` only show
calls): a property is an iblock property of the catalog iblock, returned with the legacy fields
below as strings; ``crm.product.property.list`` returns *every* matching property in one answer
(``total`` = count, never ``next``, ``start`` and ``select`` are not used); a product carries a
property as ``{"valueId": "<id>", "value": "<text>"}`` (a list of those when multiple, ``null``
when unset); ``S:Date`` / ``S:DateTime`` values are converted like other CRM dates.

Values live in the product record under ``PROPERTY_{id}`` in that wire form. Inactive
properties are not part of products (neither read nor written).
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

from b24emu import entities
from b24emu.errors import legacy
from b24emu.listing import order_rows
from b24emu.params import get_ci
from b24emu.registry import Call, Page, method
from b24emu.wire import fmt_date, fmt_datetime, parse_date, parse_datetime, to_int, yn

if TYPE_CHECKING:
    from b24emu.portal import Portal

PROPERTY_TYPES = frozenset({"S", "N", "L", "F", "E", "G"})
PROPERTY_KEY = re.compile(r"^PROPERTY_(\d+)$")

# crm.product.property.fields: name -> (type, title, attributes); titles are approximations.
PROPERTY_FIELDS: list[tuple[str, str, str, frozenset[str]]] = [
    ("ID", "integer", "ID", frozenset({"ro"})),
    ("IBLOCK_ID", "integer", "Catalog ID", frozenset({"ro"})),
    ("XML_ID", "string", "External ID", frozenset()),
    ("CODE", "string", "Symbolic code", frozenset()),
    ("NAME", "string", "Name", frozenset({"required"})),
    ("ACTIVE", "char", "Active", frozenset()),
    ("IS_REQUIRED", "char", "Required", frozenset()),
    ("SORT", "integer", "Sort", frozenset()),
    ("PROPERTY_TYPE", "char", "Property type", frozenset({"required", "immutable"})),
    ("MULTIPLE", "char", "Multiple", frozenset()),
    ("DEFAULT_VALUE", "object", "Default value", frozenset()),
    ("ROW_COUNT", "integer", "Rows", frozenset()),
    ("COL_COUNT", "integer", "Columns", frozenset()),
    ("FILE_TYPE", "string", "File types", frozenset()),
    ("LINK_IBLOCK_ID", "integer", "Linked catalog ID", frozenset({"ro"})),
    ("USER_TYPE", "string", "User type", frozenset({"immutable"})),
    ("USER_TYPE_SETTINGS", "object", "User type settings", frozenset()),
    ("VALUES", "product_property_enum_element", "Values", frozenset({"multiple"})),
]


def _blank_to_none(value: Any) -> Any:
    return None if value is None or value == "" or value == [] or value == {} else value


def _enum_values(portal: Portal, property_id: int, raw: Any) -> dict[str, dict[str, Any]]:
    """List items as the iblock keeps them: keyed by the new enum id (``VALUES`` field)."""
    items = raw.values() if isinstance(raw, dict) else raw if isinstance(raw, list) else []
    result: dict[str, dict[str, Any]] = {}
    for item in items:
        if not isinstance(item, dict) or str(item.get("VALUE") or "").strip() == "":
            continue  # as the proxy does: items without a VALUE are skipped
        enum_id = str(portal.next_id("product_property_enum"))
        xml_id = item.get("XML_ID")
        if not xml_id:  # the iblock invents one
            xml_id = hashlib.md5(f"{property_id}:{enum_id}".encode()).hexdigest()  # noqa: S324
        result[enum_id] = {
            "ID": enum_id,
            "VALUE": str(item["VALUE"]),
            "XML_ID": str(xml_id),
            "SORT": str(to_int(item.get("SORT"), 500)),
            "DEF": yn(item.get("DEF")),
        }
    return dict(sorted(result.items(), key=lambda kv: (int(kv[1]["SORT"]), int(kv[0]))))


def create(portal: Portal, fields: dict[str, Any], user_id: int = 1) -> int:
    """``crm.product.property.add``: a property of the catalog iblock; returns its id."""
    name = str(fields.get("NAME") or "").strip()
    if not name:
        # Approximation of the iblock's LAST_ERROR text (not documented).
        raise legacy("Property name is not entered.")
    property_type = str(fields.get("PROPERTY_TYPE") or "S").upper()
    if property_type not in PROPERTY_TYPES:
        raise legacy("Unknown property type.")  # approximation (not documented)
    user_type = _blank_to_none(fields.get("USER_TYPE"))
    settings = fields.get("USER_TYPE_SETTINGS")
    property_id = portal.next_id("product_property")
    iblock = str(portal.catalog_iblock_id)
    record: dict[str, Any] = {
        "ID": str(property_id),
        "IBLOCK_ID": iblock,
        "NAME": name,
        "ACTIVE": yn(fields.get("ACTIVE"), "Y"),
        # The current proxy computes `(int)$fields['SORT'] ?? 500`; the emulator uses 500.
        "SORT": str(to_int(fields.get("SORT"), 500)),
        "CODE": str(fields.get("CODE") or ""),
        "DEFAULT_VALUE": fields.get("DEFAULT_VALUE") if fields.get("DEFAULT_VALUE") else "",
        "PROPERTY_TYPE": property_type,
        "ROW_COUNT": str(to_int(fields.get("ROW_COUNT"), 1)),
        "COL_COUNT": str(to_int(fields.get("COL_COUNT"), 30)),
        "MULTIPLE": yn(fields.get("MULTIPLE")),
        "XML_ID": str(fields.get("XML_ID") or ""),
        "FILE_TYPE": str(fields.get("FILE_TYPE") or ""),
        "LINK_IBLOCK_ID": iblock if property_type == "E" else "0",
        "IS_REQUIRED": yn(fields.get("IS_REQUIRED")),
        "USER_TYPE": None if user_type is None else str(user_type),
        "USER_TYPE_SETTINGS": (
            {str(k).upper(): v for k, v in settings.items()}
            if isinstance(settings, dict) and settings
            else None
        ),
        "VALUES": (
            _enum_values(portal, property_id, fields.get("VALUES"))
            if property_type == "L"
            else None
        ),
    }
    portal.product_properties[property_id] = record
    portal.events.emit("ONCRMPRODUCTPROPERTYADD", {"ID": property_id}, user_id)
    return property_id


def active(portal: Portal) -> list[dict[str, Any]]:
    """Properties that products carry, in the iblock's order (SORT, ID)."""
    rows = [p for p in portal.product_properties.values() if p["ACTIVE"] == "Y"]
    return sorted(rows, key=lambda p: (int(p["SORT"]), int(p["ID"])))


def key(prop: dict[str, Any]) -> str:
    return f"PROPERTY_{prop['ID']}"


# -- product values ------------------------------------------------------------------------
def _convert(portal: Portal, prop: dict[str, Any], value: Any) -> Any:
    """One value as stored (its wire text); ``None`` drops it (empty or unparseable)."""
    kind, user_type = prop["PROPERTY_TYPE"], prop["USER_TYPE"]
    if value is None or value == "" or value is False:
        return None
    if kind == "F":
        return None  # files are not emulated
    if kind == "S" and user_type == "Date":
        day = parse_date(value, portal.tz)
        return fmt_date(day, portal.tz) if day else None
    if kind == "S" and user_type == "DateTime":
        moment = parse_datetime(value, portal.tz)
        return fmt_datetime(moment, portal.tz) if moment else None
    if kind == "S" and user_type == "HTML" and isinstance(value, dict):
        return dict(value)
    if isinstance(value, (dict, list)):
        return None
    if value is True:
        return "1"
    if kind == "L":
        enum_id = str(to_int(value))
        return enum_id if enum_id in (prop["VALUES"] or {}) else None
    return str(value)


def write(portal: Portal, record: dict[str, Any], fields: dict[str, Any]) -> None:
    """Apply the ``PROPERTY_{id}`` keys of ``fields`` to a product record (add and update).

    Accepted per property: a plain value, ``{"value": x}``, ``{"valueId": n, "value": x}`` or a
    list of those. The given values replace the property's values; a ``valueId`` of an existing
    value keeps that id, anything else gets a new one; empty values delete. Properties that are
    not mentioned keep their values. Unknown or inactive property ids are ignored.
    """
    for prop in active(portal):
        name = key(prop)
        if name not in fields:
            continue
        raw = fields[name]
        elements = raw if isinstance(raw, list) else [raw]
        current = record.get(name)
        known = {
            v["valueId"]
            for v in (current if isinstance(current, list) else [current] if current else [])
        }
        values: list[dict[str, Any]] = []
        for element in elements:
            value_id = None
            if isinstance(element, dict) and element.get("value") is not None:
                value_id = to_int(element.get("valueId"))
                element = element["value"]
            stored = _convert(portal, prop, element)
            if stored is None:
                continue
            text_id = str(value_id) if value_id and value_id > 0 else ""
            if text_id not in known:
                text_id = str(portal.next_id("product_property_value"))
            known.discard(text_id)
            values.append({"valueId": text_id, "value": stored})
        if prop["MULTIPLE"] == "Y":
            record[name] = values or None
        else:
            record[name] = values[0] if values else None


def values_of(record: dict[str, Any], prop: dict[str, Any]) -> Any:
    """The wire value of one property on a product (``None`` when unset)."""
    value = record.get(key(prop))
    if isinstance(value, list):
        return [dict(v) for v in value]
    return dict(value) if isinstance(value, dict) else None


def render(
    portal: Portal, record: dict[str, Any], row: dict[str, Any], wanted: list[str] | None
) -> None:
    """Add properties to a rendered product row: all when ``wanted`` is None, else those named."""
    for prop in active(portal):
        name = key(prop)
        if wanted is None or name in wanted:
            row[name] = values_of(record, prop)


def describe(portal: Portal) -> dict[str, Any]:
    """``PROPERTY_{id}`` entries of ``crm.product.fields`` (prepareFieldInfos shape)."""
    result: dict[str, Any] = {}
    for prop in active(portal):
        info: dict[str, Any] = {
            "type": "product_property",
            "isRequired": prop["IS_REQUIRED"] == "Y",
            "isReadOnly": False,
            "isImmutable": False,
            "isMultiple": prop["MULTIPLE"] == "Y",
            "isDynamic": True,
            "propertyType": prop["PROPERTY_TYPE"],
            "userType": prop["USER_TYPE"] or "",
            "title": prop["NAME"],
        }
        if prop["PROPERTY_TYPE"] == "L":
            info["values"] = {
                k: {"ID": v["ID"], "VALUE": v["VALUE"]} for k, v in (prop["VALUES"] or {}).items()
            }
        result[key(prop)] = info
    return result


def resolver(portal: Portal) -> Any:
    """Filter/order resolver for ``PROPERTY_{id}`` in ``crm.product.list`` (values as a list)."""
    props = {key(p): p for p in active(portal)}

    def resolve(record: dict[str, Any], field: str) -> tuple[Any, str] | None:
        prop = props.get(field.upper())
        if prop is None:
            return None
        value = values_of(record, prop)
        items = value if isinstance(value, list) else [value] if value else []
        texts = [v["value"] for v in items]
        if prop["PROPERTY_TYPE"] in ("N", "L"):
            return texts, "num"
        if prop["USER_TYPE"] in ("Date", "DateTime"):
            return texts, "date"
        return texts, "str"

    return resolve


# -- methods ---------------------------------------------------------------------------------
def _property(call: Call) -> dict[str, Any]:
    property_id = entities.require_id(call.params)
    prop = call.portal.product_properties.get(property_id)
    if prop is None:
        raise legacy("Not found")
    return prop


def _output(prop: dict[str, Any]) -> dict[str, Any]:
    row = dict(prop)
    if isinstance(row["VALUES"], dict):
        row["VALUES"] = {k: dict(v) for k, v in row["VALUES"].items()}
    return row


def _matches(prop: dict[str, Any], raw_filter: dict[str, Any]) -> bool:
    """``CIBlockProperty::GetList`` filter keys; others (and prefixes) are ignored."""
    for raw_key, value in raw_filter.items():
        name = str(raw_key).upper()
        text = "" if value is None else str(value)
        if name in ("ACTIVE", "IS_REQUIRED", "MULTIPLE"):
            if text in ("Y", "N") and prop[name] != text:
                return False
        elif name in ("NAME", "CODE", "XML_ID", "!XML_ID"):
            field = name.lstrip("!")
            pattern = "".join(
                ".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in text
            )
            hit = re.fullmatch(pattern, prop[field] or "", flags=re.IGNORECASE) is not None
            if hit == name.startswith("!"):
                return False
        elif name == "PROPERTY_TYPE":
            kind, _, user_type = text.partition(":")
            if prop["PROPERTY_TYPE"] != kind or (user_type and prop["USER_TYPE"] != user_type):
                return False
        elif name == "USER_TYPE":
            if (prop["USER_TYPE"] or "") != text:
                return False
        elif name in ("ID", "LINK_IBLOCK_ID"):
            if to_int(prop[name]) != to_int(value):
                return False
    return True


# CIBlockProperty::GetList order keys; any other key sorts by TIMESTAMP_X (here: by ID).
_ORDER_FIELDS = {
    "id": "ID",
    "block_id": "IBLOCK_ID",
    "name": "NAME",
    "active": "ACTIVE",
    "sort": "SORT",
}


@method("crm.product.property.fields", "crm")
def property_fields(call: Call) -> Any:
    result: dict[str, Any] = {}
    for name, type_, title, attrs in PROPERTY_FIELDS:
        result[name] = {
            "type": type_,
            "isRequired": "required" in attrs,
            "isReadOnly": "ro" in attrs,
            "isImmutable": "immutable" in attrs,
            "isMultiple": "multiple" in attrs,
            "isDynamic": False,
            "title": title,
        }
    return result


@method("crm.product.property.add", "crm")
def property_add(call: Call) -> Any:
    return create(call.portal, entities.fields_param(call.params), call.user_id)


@method("crm.product.property.get", "crm")
def property_get(call: Call) -> Any:
    return _output(_property(call))


@method("crm.product.property.list", "crm")
def property_list(call: Call) -> Any:
    raw_filter = get_ci(call.params, "filter")
    raw_order = get_ci(call.params, "order")
    if raw_filter is not None and not isinstance(raw_filter, (dict, list)):
        raise legacy("Parameter 'filter' must be array.")
    if raw_order is not None and not isinstance(raw_order, (dict, list)):
        raise legacy("Parameter 'order' must be array.")
    rows = [p for _, p in sorted(call.portal.product_properties.items())]
    if isinstance(raw_filter, dict):
        rows = [p for p in rows if _matches(p, raw_filter)]
    if isinstance(raw_order, dict):
        order = {
            _ORDER_FIELDS.get(str(k).lower(), "ID"): ("DESC" if str(v).upper() == "DESC" else "ASC")
            for k, v in raw_order.items()
        }

        def resolve(row: dict[str, Any], field: str) -> tuple[Any, str]:
            return row[field], "num" if field in ("ID", "IBLOCK_ID", "SORT") else "str"

        rows = order_rows(rows, order, resolve, call.portal.tz)
    # The proxy builds an array, not a DB result: everything in one answer, total = count.
    return Page([_output(p) for p in rows], total=len(rows), next=None)
