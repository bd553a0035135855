"""Controller methods ``crm.item.list/get``, ``crm.category.*``; legacy ``crm.status.list``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from b24emu import userfields
from b24emu.entities import COMPANY, CONTACT, DEAL, Kind, resolver
from b24emu.errors import ApiError, legacy
from b24emu.listing import legacy_page, matches, modern_page, order_rows, parse_filter
from b24emu.params import as_list, get_ci
from b24emu.registry import Call, method
from b24emu.schema import DATE_TYPES, NUMERIC_TYPES
from b24emu.wire import number, to_int, yn

if TYPE_CHECKING:
    from b24emu.portal import Portal

KINDS = {2: DEAL, 3: CONTACT, 4: COMPANY}
_OVERRIDES = {
    "CREATED_BY_ID": "createdBy",
    "MODIFY_BY_ID": "updatedBy",
    "DATE_CREATE": "createdTime",
    "DATE_MODIFY": "updatedTime",
    "MOVED_BY_ID": "movedBy",
}
_ZERO_WHEN_EMPTY = frozenset({"COMPANY_ID", "CONTACT_ID"})


def camel(name: str) -> str:
    """``ASSIGNED_BY_ID`` -> ``assignedById``; ``UF_CRM_17212`` -> ``ufCrm_17212``."""
    if name in _OVERRIDES:
        return _OVERRIDES[name]
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name.lower())


def _typed(fd_type: str, name: str, value: Any) -> Any:
    if fd_type in NUMERIC_TYPES and fd_type != "double":
        if value in (None, ""):
            return 0 if name in _ZERO_WHEN_EMPTY else None
        return to_int(value)
    if fd_type == "double":
        return None if value in (None, "") else number(value)
    if fd_type in DATE_TYPES:
        return value or None
    return value


def to_item(
    portal: Portal, kind: Kind, record: dict[str, Any], original_uf: bool
) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for fd in kind.fields:
        if fd.readable and fd.type != "crm_multifield":
            item[camel(fd.name)] = _typed(fd.type, fd.name, record.get(fd.name))
    if kind is DEAL:
        bindings = portal.deal_contacts.get(to_int(record["ID"]), [])
        item["contactIds"] = [b["CONTACT_ID"] for b in bindings]
        item["observers"] = []
    for defn in userfields.definitions(portal, kind.uf_entity):
        key = defn["FIELD_NAME"] if original_uf else camel(defn["FIELD_NAME"])
        item[key] = userfields.typed(defn, record.get(defn["FIELD_NAME"]))
    item["entityTypeId"] = kind.entity_type_id
    return item


def _names(portal: Portal, kind: Kind) -> dict[str, str]:
    """Accepted filter/order/select names (camelCase or UPPER_CASE) -> legacy field name."""
    names: dict[str, str] = {}
    for fd in kind.fields:
        if fd.readable:
            names[camel(fd.name)] = fd.name
            names[fd.name] = fd.name
    for defn in userfields.definitions(portal, kind.uf_entity):
        names[camel(defn["FIELD_NAME"])] = defn["FIELD_NAME"]
        names[defn["FIELD_NAME"]] = defn["FIELD_NAME"]
    return names


def _kind(call: Call) -> Kind:
    kind = KINDS.get(to_int(get_ci(call.params, "entityTypeId")))
    if kind is None:
        raise ApiError("NOT_FOUND", "SPA not found")
    return kind


@method("crm.item.list", "crm")
def item_list(call: Call) -> Any:
    portal = call.portal
    kind = _kind(call)
    names = _names(portal, kind)
    base = resolver(portal, kind)

    def resolve(record: dict[str, Any], field: str) -> tuple[Any, str] | None:
        if kind is DEAL and field in ("contactIds", "CONTACT_IDS"):
            return portal.contacts_of_deal(to_int(record["ID"])), "num"
        legacy_name = names.get(field)
        return base(record, legacy_name) if legacy_name else None

    group = parse_filter(get_ci(call.params, "filter") or {}, nested=True)
    for cond in _walk(group):
        if resolve({"ID": "0"}, cond.field) is None:
            raise ApiError(
                "INVALID_ARG_VALUE",
                f"Invalid filter: field '{cond.field}' is not allowed in filter",
            )
    order = get_ci(call.params, "order") or {}
    if isinstance(order, dict):
        for field, direction in order.items():
            if field not in names:
                raise ApiError(
                    "INVALID_ARG_VALUE", f"Invalid order: field '{field}' is not allowed in order"
                )
            if str(direction).upper() not in ("ASC", "DESC"):
                raise ApiError(
                    "INVALID_ARG_VALUE",
                    "Invalid order: allowed sort directions are "
                    f"ASC, DESC. But got '{direction}' for field '{field}'",
                )
    rows = [r for _, r in sorted(kind.records(portal).items())]
    rows = [r for r in rows if matches(r, group, resolve, portal.tz)]
    rows = order_rows(rows, order, resolve, portal.tz)
    page = modern_page(rows, call.start, "items")
    original = yn(get_ci(call.params, "useOriginalUfNames")) == "Y"
    select = [str(s) for s in as_list(get_ci(call.params, "select")) if str(s)]
    items = []
    for record in page.result["items"]:
        item = to_item(portal, kind, record, original)
        if select and "*" not in select:
            wanted = {"id", *select}
            wanted |= {camel(names[s]) for s in select if s in names}
            if original:
                wanted |= {names[s] for s in select if s in names}
            item = {k: v for k, v in item.items() if k in wanted}
        items.append(item)
    page.result = {"items": items}
    return page


def _walk(group: Any) -> list[Any]:
    found = []
    for item in group.items:
        found.extend(_walk(item) if hasattr(item, "items") and hasattr(item, "logic") else [item])
    return found


@method("crm.item.get", "crm")
def item_get(call: Call) -> Any:
    kind = _kind(call)
    record = kind.records(call.portal).get(to_int(get_ci(call.params, "id")))
    if record is None:
        raise ApiError("NOT_FOUND", "Element not found")
    original = yn(get_ci(call.params, "useOriginalUfNames")) == "Y"
    return {"item": to_item(call.portal, kind, record, original)}


def _categories(call: Call) -> list[dict[str, Any]]:
    if to_int(get_ci(call.params, "entityTypeId")) != 2:
        raise ApiError("NOT_FOUND", "SPA not found")
    rows = sorted(call.portal.deal_categories.values(), key=lambda c: (c["sort"], c["id"]))
    return [dict(c) for c in rows]


@method("crm.category.list", "crm")
def category_list(call: Call) -> Any:
    return modern_page(_categories(call), call.start, "categories")


@method("crm.category.get", "crm")
def category_get(call: Call) -> Any:
    wanted = to_int(get_ci(call.params, "id"))
    for category in _categories(call):
        if category["id"] == wanted:
            return {"category": category}
    raise ApiError("NOT_FOUND", "Category not found")


@method("crm.dealcategory.list", "crm")
def dealcategory_list(call: Call) -> Any:
    rows = [
        {
            "ID": str(c["id"]),
            "CREATED_DATE": call.portal.now_str(),
            "NAME": c["name"],
            "IS_LOCKED": "N",
            "SORT": str(c["sort"]),
        }
        for c in sorted(call.portal.deal_categories.values(), key=lambda c: c["sort"])
        if c["id"] != 0
    ]
    return legacy_page(rows, call.start)


@method("crm.dealcategory.stage.list", "crm")
def dealcategory_stages(call: Call) -> Any:
    category_id = to_int(get_ci(call.params, "id"))
    if category_id not in call.portal.deal_categories:
        raise legacy("Not found")
    return [
        {"NAME": s["NAME"], "SORT": s["SORT"], "STATUS_ID": s["STATUS_ID"]}
        for s in call.portal.stages(category_id)
    ]


@method("crm.status.list", "crm")
def status_list(call: Call) -> Any:
    portal = call.portal

    def resolve(row: dict[str, Any], field: str) -> tuple[Any, str] | None:
        if field not in row:
            return None
        return row[field], "num" if field in ("ID", "SORT", "CATEGORY_ID") else "str"

    group = parse_filter(get_ci(call.params, "filter") or {})
    rows = [dict(r) for r in portal.statuses if matches(r, group, resolve, portal.tz)]
    order = get_ci(call.params, "order") or {"SORT": "ASC"}
    return legacy_page(order_rows(rows, order, resolve, portal.tz), call.start)
