"""Universal lists (``lists.*``, §9.1): iblocks, fields, elements with value-ID keyed properties."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from b24emu.errors import ApiError
from b24emu.listing import legacy_page, matches, order_rows, parse_filter
from b24emu.params import as_list, get_ci
from b24emu.registry import Call, method
from b24emu.wire import parse_date, parse_datetime, to_int, yn

if TYPE_CHECKING:
    from b24emu.portal import Portal

IBLOCK_TYPES = frozenset({"lists", "bitrix_processes", "lists_socnet"})


def _missing(name: str) -> ApiError:
    return ApiError("ERROR_REQUIRED_PARAMETERS_MISSING", f'Required parameter "{name}" is missing')


def display_date(portal: Portal, value: Any, with_time: bool) -> str | None:
    """Dates in lists come in the portal's display format, not ISO (§9.1)."""
    moment = parse_datetime(value, portal.tz)
    if moment is None:
        return None
    moment = moment.astimezone(portal.tz)
    if portal.lang == "ru":
        return moment.strftime("%d.%m.%Y %H:%M:%S" if with_time else "%d.%m.%Y")
    if with_time:
        return moment.strftime("%m/%d/%Y %I:%M:%S ") + moment.strftime("%p").lower()
    return moment.strftime("%m/%d/%Y")


def _iblock(call: Call) -> dict[str, Any]:
    portal = call.portal
    type_id = get_ci(call.params, "IBLOCK_TYPE_ID")
    if not type_id:
        raise _missing("IBLOCK_TYPE_ID")
    iblock_id = to_int(get_ci(call.params, "IBLOCK_ID"))
    code = get_ci(call.params, "IBLOCK_CODE")
    if not iblock_id and not code:
        raise _missing("IBLOCK_ID")
    for iblock in portal.iblocks.values():
        if iblock["IBLOCK_TYPE_ID"] == type_id and (
            int(iblock["ID"]) == iblock_id or (code and iblock["CODE"] == code)
        ):
            return iblock
    raise ApiError("ERROR_IBLOCK_NOT_FOUND", "Iblock not found")


@method("lists.add", "lists")
def lists_add(call: Call) -> Any:
    portal = call.portal
    type_id = str(get_ci(call.params, "IBLOCK_TYPE_ID") or "")
    code = str(get_ci(call.params, "IBLOCK_CODE") or "")
    if not type_id:
        raise _missing("IBLOCK_TYPE_ID")
    if not code:
        raise _missing("IBLOCK_CODE")
    if type_id not in IBLOCK_TYPES:
        raise ApiError("ERROR_IBLOCK_TYPE_NOT_FOUND", "Iblock type not found")
    if any(i["CODE"] == code for i in portal.iblocks.values()):
        raise ApiError("ERROR_IBLOCK_ALREADY_EXISTS", "Iblock already exists")
    fields = get_ci(call.params, "FIELDS") or {}
    if not fields.get("NAME"):
        raise _missing("NAME")
    iblock_id = portal.next_id("iblock")
    portal.iblocks[iblock_id] = {
        "ID": str(iblock_id),
        "IBLOCK_TYPE_ID": type_id,
        "CODE": code,
        "NAME": str(fields["NAME"]),
        "ACTIVE": "Y",
        "SORT": str(to_int(fields.get("SORT"), 500)),
        "DESCRIPTION": str(fields.get("DESCRIPTION") or ""),
        "BIZPROC": yn(fields.get("BIZPROC")),
    }
    portal.iblock_fields[iblock_id] = {}
    return iblock_id


@method("lists.get", "lists")
def lists_get(call: Call) -> Any:
    portal = call.portal
    type_id = get_ci(call.params, "IBLOCK_TYPE_ID")
    if not type_id:
        raise _missing("IBLOCK_TYPE_ID")
    if get_ci(call.params, "IBLOCK_ID") or get_ci(call.params, "IBLOCK_CODE"):
        rows = [_iblock(call)]
    else:
        rows = [i for i in portal.iblocks.values() if i["IBLOCK_TYPE_ID"] == type_id]
    return legacy_page([dict(r) for r in rows], call.start)


@method("lists.field.add", "lists")
def field_add(call: Call) -> Any:
    portal = call.portal
    iblock = _iblock(call)
    fields = get_ci(call.params, "FIELDS") or {}
    if not isinstance(fields, dict) or not fields.get("NAME"):
        raise _missing("NAME")
    if not fields.get("TYPE"):
        raise _missing("TYPE")
    prop_id = portal.next_id("iblock_property") + 100
    field_id = f"PROPERTY_{prop_id}"
    portal.iblock_fields[int(iblock["ID"])][field_id] = {
        "FIELD_ID": field_id,
        "ID": str(prop_id),
        "NAME": str(fields["NAME"]),
        "TYPE": str(fields["TYPE"]),
        "CODE": fields.get("CODE") or None,
        "IS_REQUIRED": yn(fields.get("IS_REQUIRED")),
        "MULTIPLE": yn(fields.get("MULTIPLE")),
        "SORT": str(to_int(fields.get("SORT"), 500)),
        "DEFAULT_VALUE": fields.get("DEFAULT_VALUE") or "",
    }
    return field_id


@method("lists.field.get", "lists")
def field_get(call: Call) -> Any:
    iblock = _iblock(call)
    result: dict[str, Any] = {
        "NAME": {
            "FIELD_ID": "NAME",
            "NAME": "Название",
            "TYPE": "NAME",
            "IS_REQUIRED": "Y",
            "MULTIPLE": "N",
            "SORT": "10",
        }
    }
    result.update({k: dict(v) for k, v in call.portal.iblock_fields[int(iblock["ID"])].items()})
    wanted = get_ci(call.params, "FIELD_ID")
    return {wanted: result[wanted]} if wanted in result else result


def _store_value(portal: Portal, field: dict[str, Any], value: Any) -> str | None:
    if value is None or value == "":
        return None
    if field["TYPE"] == "S:Date":
        day = parse_date(value, portal.tz)
        return day.isoformat() if day else None
    if field["TYPE"] == "S:DateTime":
        moment = parse_datetime(value, portal.tz)
        return moment.isoformat() if moment else None
    return str(value)


def _write(call: Call, iblock: dict[str, Any], element: dict[str, Any]) -> None:
    """Set NAME and every property from FIELDS; what is not passed is cleared (§9.1)."""
    portal = call.portal
    fields = get_ci(call.params, "FIELDS")
    if not isinstance(fields, dict) or not str(fields.get("NAME") or "").strip():
        raise ApiError("ERROR_ADD_ELEMENT", 'Field "Name" is required')
    defs = portal.iblock_fields[int(iblock["ID"])]
    props: dict[str, list[tuple[int, str]]] = {}
    for field_id, field in defs.items():
        raw = fields.get(field_id)
        if raw is None and field.get("CODE"):
            raw = fields.get(f"PROPERTY_{field['CODE']}")
        values = [v for v in (_store_value(portal, field, x) for x in as_list(raw)) if v]
        if field["MULTIPLE"] == "N":
            values = values[:1]
        if field["IS_REQUIRED"] == "Y" and not values:
            raise ApiError("ERROR_ELEMENT_FIELD_VALUE", f'Field "{field["NAME"]}" is required')
        props[field_id] = [(portal.next_id("iblock_value") + 1000, v) for v in values]
    element["NAME"] = str(fields["NAME"])
    element["IBLOCK_SECTION_ID"] = get_ci(call.params, "IBLOCK_SECTION_ID")
    element["props"] = props
    element["TIMESTAMP_X"] = portal.now_str()  # the iblock element's last change


@method("lists.element.add", "lists")
def element_add(call: Call) -> Any:
    portal = call.portal
    iblock = _iblock(call)
    code = str(get_ci(call.params, "ELEMENT_CODE") or "")
    if not code:
        raise _missing("ELEMENT_CODE")
    if any(
        e["IBLOCK_ID"] == int(iblock["ID"]) and e["CODE"] == code
        for e in portal.list_elements.values()
    ):
        raise ApiError("ERROR_ELEMENT_ALREADY_EXISTS", "Element with this code already exists")
    element: dict[str, Any] = {
        "IBLOCK_ID": int(iblock["ID"]),
        "CODE": code,
        "CREATED_BY": str(call.user_id),
        "DATE_CREATE": portal.now_str(),
    }
    _write(call, iblock, element)
    element_id = portal.next_id("list_element")
    element["ID"] = element_id
    portal.list_elements[element_id] = element
    return element_id


def _find(call: Call, iblock: dict[str, Any]) -> dict[str, Any]:
    element_id = to_int(get_ci(call.params, "ELEMENT_ID"))
    code = get_ci(call.params, "ELEMENT_CODE")
    for element in call.portal.list_elements.values():
        if element["IBLOCK_ID"] == int(iblock["ID"]) and (
            element["ID"] == element_id or (code and element["CODE"] == code)
        ):
            return element
    raise ApiError("ERROR_ELEMENT_NOT_FOUND", "Element not found")


@method("lists.element.update", "lists")
def element_update(call: Call) -> Any:
    iblock = _iblock(call)
    _write(call, iblock, _find(call, iblock))
    return True


@method("lists.element.delete", "lists")
def element_delete(call: Call) -> Any:
    iblock = _iblock(call)
    del call.portal.list_elements[_find(call, iblock)["ID"]]
    return True


def _render(portal: Portal, iblock: dict[str, Any], element: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "ID": str(element["ID"]),
        "IBLOCK_ID": str(element["IBLOCK_ID"]),
        "NAME": element["NAME"],
        "IBLOCK_SECTION_ID": element["IBLOCK_SECTION_ID"],
        "CREATED_BY": element["CREATED_BY"],
        "BP_PUBLISHED": "Y",
        "CODE": element["CODE"],
        "DATE_CREATE": display_date(portal, element["DATE_CREATE"], True),
        "TIMESTAMP_X": display_date(portal, element["TIMESTAMP_X"], True),
    }
    defs = portal.iblock_fields[int(iblock["ID"])]
    for field_id, values in element["props"].items():
        if not values:
            continue
        kind = defs[field_id]["TYPE"] if field_id in defs else "S"
        if kind in ("S:Date", "S:DateTime"):
            shown = {str(i): display_date(portal, v, kind == "S:DateTime") for i, v in values}
        else:
            shown = {str(i): v for i, v in values}
        row[field_id] = shown
    return row


@method("lists.element.get", "lists")
def element_get(call: Call) -> Any:
    portal = call.portal
    iblock = _iblock(call)
    if get_ci(call.params, "ELEMENT_ID") or get_ci(call.params, "ELEMENT_CODE"):
        try:
            elements = [_find(call, iblock)]
        except ApiError:
            elements = []
    else:
        elements = [
            e
            for _, e in sorted(portal.list_elements.items())
            if e["IBLOCK_ID"] == int(iblock["ID"])
        ]
    rows = [_render(portal, iblock, e) | {"_changed": e["TIMESTAMP_X"]} for e in elements]

    def resolve(row: dict[str, Any], field: str) -> tuple[Any, str] | None:
        if field.startswith("PROPERTY_"):
            return list((row.get(field) or {}).values()), "str"
        if field == "TIMESTAMP_X":  # filtered as a moment, shown in display format
            return row["_changed"], "date"
        if field not in row:
            return None
        return row[field], "num" if field in ("ID", "CREATED_BY") else "str"

    group = parse_filter(get_ci(call.params, "FILTER") or {})
    rows = [r for r in rows if matches(r, group, resolve, portal.tz)]
    rows = order_rows(rows, get_ci(call.params, "ELEMENT_ORDER") or {}, resolve, portal.tz)
    rows = [{k: v for k, v in r.items() if k != "_changed"} for r in rows]
    page = legacy_page(rows, call.start)
    select = [str(s) for s in as_list(get_ci(call.params, "SELECT"))]
    if select:
        page.result = [{k: v for k, v in r.items() if k in {"ID", *select}} for r in page.result]
    return page
