"""User fields (§8): definitions per CRM entity and the value formats of §8.4."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from b24emu.auth import new_token
from b24emu.errors import ApiError, core, legacy
from b24emu.listing import legacy_page
from b24emu.params import as_list, get_ci
from b24emu.registry import Call, method
from b24emu.wire import (
    fmt_date,
    fmt_datetime,
    number,
    parse_date,
    parse_datetime,
    php_truthy,
    to_int,
    yn,
)

if TYPE_CHECKING:
    from b24emu.portal import Portal

UF_TYPES = (
    "string",
    "integer",
    "double",
    "boolean",
    "datetime",
    "date",
    "money",
    "url",
    "address",
    "enumeration",
    "file",
    "employee",
    "crm_status",
    "iblock_section",
    "iblock_element",
    "crm",
)
LANGS = ("ru", "en")
LABELS = (
    "EDIT_FORM_LABEL",
    "LIST_COLUMN_LABEL",
    "LIST_FILTER_LABEL",
    "ERROR_MESSAGE",
    "HELP_MESSAGE",
)
ENTITY_BY_METHOD = {"contact": "CRM_CONTACT", "deal": "CRM_DEAL", "company": "CRM_COMPANY"}
_SKIP = object()


def definitions(portal: Portal, entity_id: str) -> list[dict[str, Any]]:
    rows = [d for d in portal.userfields.values() if d["ENTITY_ID"] == entity_id]
    return sorted(rows, key=lambda d: (d["SORT"], d["ID"]))


def by_name(portal: Portal, entity_id: str) -> dict[str, dict[str, Any]]:
    return {d["FIELD_NAME"]: d for d in definitions(portal, entity_id)}


def empty_value(defn: dict[str, Any]) -> Any:
    return False if defn["MULTIPLE"] == "Y" else None


def _one_value(portal: Portal, defn: dict[str, Any], value: Any) -> Any:
    kind = defn["USER_TYPE_ID"]
    if kind == "boolean":
        return "1" if php_truthy(value) else "0"  # "N" is truthy for the storage layer (§8.4)
    if value is None or value == "":
        return None
    if kind in ("integer", "employee"):
        return str(to_int(value))
    if kind == "double":
        return str(number(value))
    if kind == "enumeration":
        ids = {item["ID"] for item in defn["LIST"]}
        return str(to_int(value)) if to_int(value) in ids else None
    if kind == "date":
        day = parse_date(value, portal.tz)
        return fmt_date(day, portal.tz) if day else _SKIP
    if kind == "datetime":
        moment = parse_datetime(value, portal.tz)
        return fmt_datetime(moment, portal.tz) if moment else _SKIP
    if kind == "file":
        return _SKIP
    return str(value)


def internalize(portal: Portal, defn: dict[str, Any], value: Any) -> Any:
    """The stored (legacy wire) value; ``_SKIP``-able values are dropped silently."""
    if defn["MULTIPLE"] == "Y":
        items = [_one_value(portal, defn, v) for v in as_list(value)]
        kept = [v for v in items if v is not None and v is not _SKIP]
        return kept or False
    result = _one_value(portal, defn, value)
    return None if result is _SKIP else result


def is_skip(value: Any) -> bool:
    return value is _SKIP


def filter_kind(defn: dict[str, Any]) -> str:
    kind = defn["USER_TYPE_ID"]
    if kind in ("integer", "double", "enumeration", "employee", "boolean"):
        return "num"
    if kind in ("date", "datetime"):
        return "date"
    return "str"


def typed(defn: dict[str, Any], value: Any) -> Any:
    """A stored value as ``crm.item.*`` returns it (real numbers, boolean ``Y``/``N``)."""
    kind = defn["USER_TYPE_ID"]

    def one(v: Any) -> Any:
        if v is None or v == "":
            return None
        if kind in ("integer", "employee", "enumeration"):
            return to_int(v)
        if kind == "double":
            return number(v)
        if kind == "boolean":
            return "Y" if v == "1" else "N"
        return v

    if defn["MULTIPLE"] == "Y":
        return [one(v) for v in value] if isinstance(value, list) else []
    if kind == "boolean" and value is None:
        return "N"
    return one(value)


def _label(defn: dict[str, Any], key: str, lang: str) -> str | None:
    labels = defn.get(key) or {}
    return labels.get(lang) or next(iter(labels.values()), None)


def describe(portal: Portal, defn: dict[str, Any]) -> dict[str, Any]:
    """The ``crm.*.fields`` entry of a UF: ``title`` is the code, labels separately (§14.12)."""
    info: dict[str, Any] = {
        "type": defn["USER_TYPE_ID"],
        "isRequired": defn["MANDATORY"] == "Y",
        "isReadOnly": False,
        "isImmutable": False,
        "isMultiple": defn["MULTIPLE"] == "Y",
        "isDynamic": True,
        "title": defn["FIELD_NAME"],
        "listLabel": _label(defn, "LIST_COLUMN_LABEL", portal.lang),
        "formLabel": _label(defn, "EDIT_FORM_LABEL", portal.lang),
        "filterLabel": _label(defn, "LIST_FILTER_LABEL", portal.lang),
        "settings": defn["SETTINGS"] or [],
    }
    if defn["USER_TYPE_ID"] == "enumeration":
        info["items"] = [{"ID": str(i["ID"]), "VALUE": i["VALUE"]} for i in defn["LIST"]]
    return info


def _labels(value: Any, default: str) -> dict[str, str]:
    if isinstance(value, dict):
        return {lang: str(value.get(lang, default)) for lang in sorted({*LANGS, *value})}
    if value is None or value == "":
        return dict.fromkeys(LANGS, default)
    return dict.fromkeys(LANGS, str(value))


def create(portal: Portal, entity_id: str, fields: dict[str, Any]) -> int:
    """``CUserTypeEntity::Add`` as driven by the REST proxy (prefixing, defaults, errors)."""
    problems = []
    type_id = str(fields.get("USER_TYPE_ID") or "").strip()
    name = str(fields.get("FIELD_NAME") or "").strip().upper()
    if not type_id:
        problems.append("The 'USER_TYPE_ID' field is not found.")
    if not name:
        problems.append("The 'FIELD_NAME' field is not found.")
    if problems:
        raise legacy("\n".join(problems))
    if not name.startswith("UF_CRM_"):
        name = "UF_CRM_" + (name[3:] if name.startswith("UF_") else name)
    if len(name) > 50:
        raise core("Field name is too long (more than 50 characters).")
    if not re.fullmatch(r"[A-Z0-9_]+", name):
        raise core(
            "Field name contains invalid characters. Allowed characters are: A-Z, 0-9, and _."
        )
    if type_id not in UF_TYPES:
        raise core("Invalid custom type specified")
    if name in by_name(portal, entity_id):
        raise core(
            f'A user field with the name "{name}" already exists for the entity "{entity_id}".'
        )
    label = str(fields.get("LABEL") or "").strip() or name
    multiple = "N" if type_id == "boolean" else yn(fields.get("MULTIPLE"))
    raw_settings = fields.get("SETTINGS")
    settings: dict[str, Any] = raw_settings if isinstance(raw_settings, dict) else {}
    if type_id == "enumeration":
        settings = {
            "DISPLAY": str(settings.get("DISPLAY") or "LIST").upper(),
            "LIST_HEIGHT": max(to_int(settings.get("LIST_HEIGHT"), 1), 1),
        }
    items: list[dict[str, Any]] = []
    seen_xml: set[str] = set()
    default_taken = False
    for raw in as_list(fields.get("LIST")) if type_id == "enumeration" else []:
        if not isinstance(raw, dict) or not str(raw.get("VALUE") or "").strip():
            continue
        xml = str(raw.get("XML_ID") or "") or new_token()
        if xml in seen_xml:
            raise core(f"List item with value XML_ID='{xml}' already exists")
        seen_xml.add(xml)
        is_def = yn(raw.get("DEF")) == "Y" and (multiple == "Y" or not default_taken)
        default_taken = default_taken or is_def
        sort = to_int(raw.get("SORT"), 0)
        items.append(
            {
                "ID": portal.next_id("uf_enum"),
                "SORT": sort if sort > 0 else 500,
                "VALUE": str(raw["VALUE"]).strip(),
                "DEF": "Y" if is_def else "N",
                "XML_ID": xml,
            }
        )
    uf_id = portal.next_id("userfield")
    defn: dict[str, Any] = {
        "ID": uf_id,
        "ENTITY_ID": entity_id,
        "FIELD_NAME": name,
        "USER_TYPE_ID": type_id,
        "XML_ID": fields.get("XML_ID") or None,
        "SORT": to_int(fields.get("SORT"), 100) or 100,
        "MULTIPLE": multiple,
        "MANDATORY": yn(fields.get("MANDATORY")),
        "SHOW_FILTER": "E" if yn(fields.get("SHOW_FILTER")) == "Y" else "N",
        "SHOW_IN_LIST": yn(fields.get("SHOW_IN_LIST"), "Y"),
        "EDIT_IN_LIST": yn(fields.get("EDIT_IN_LIST"), "Y"),
        "IS_SEARCHABLE": yn(fields.get("IS_SEARCHABLE")),
        "SETTINGS": settings,
        "LIST": items,
    }
    for key in LABELS:
        defn[key] = _labels(fields.get(key), label)
    portal.userfields[uf_id] = defn
    collection = {
        "CRM_CONTACT": portal.contacts,
        "CRM_DEAL": portal.deals,
        "CRM_COMPANY": portal.companies,
    }.get(entity_id, {})
    for record in collection.values():
        record.setdefault(name, empty_value(defn))
    return uf_id


def _wire(defn: dict[str, Any], lang: str | None, lang_maps: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        k: (str(defn[k]) if isinstance(defn[k], int) else defn[k])
        for k in (
            "ID",
            "ENTITY_ID",
            "FIELD_NAME",
            "USER_TYPE_ID",
            "XML_ID",
            "SORT",
            "MULTIPLE",
            "MANDATORY",
            "SHOW_FILTER",
            "SHOW_IN_LIST",
            "EDIT_IN_LIST",
            "IS_SEARCHABLE",
        )
    }
    row["SETTINGS"] = defn["SETTINGS"] or []
    for key in LABELS:
        if lang_maps:
            row[key] = defn[key]
        elif lang is not None:
            row[key] = defn[key].get(lang)
    if defn["USER_TYPE_ID"] == "enumeration":
        row["LIST"] = [
            {
                "ID": str(i["ID"]),
                "SORT": str(i["SORT"]),
                "VALUE": i["VALUE"],
                "DEF": i["DEF"],
                "XML_ID": i["XML_ID"],
            }
            for i in sorted(defn["LIST"], key=lambda i: i["SORT"])
        ]
    return row


def _register(entity: str, entity_id: str) -> None:
    prefix = f"crm.{entity}.userfield"

    @method(f"{prefix}.add", "crm")
    def add(call: Call) -> Any:
        fields = get_ci(call.params, "fields")
        if not isinstance(fields, dict):
            fields = call.params  # the server also reads them from the top level
        uf_id = create(call.portal, entity_id, fields)
        defn = call.portal.userfields[uf_id]
        call.portal.events.emit(
            f"ONCRM{entity.upper()}USERFIELDADD",
            {"ID": uf_id, "ENTITY_ID": entity_id, "FIELD_NAME": defn["FIELD_NAME"]},
            call.user_id,
        )
        return uf_id

    @method(f"{prefix}.list", "crm")
    def list_(call: Call) -> Any:
        flt = get_ci(call.params, "filter") or {}
        flt = flt if isinstance(flt, dict) else {}
        lang = flt.get("LANG")
        rows = []
        for defn in definitions(call.portal, entity_id):
            wire = _wire(defn, None, False)
            if all(k == "LANG" or str(wire.get(k)) == str(v) for k, v in flt.items()):
                rows.append(_wire(defn, lang, False))
        order = get_ci(call.params, "order")
        if isinstance(order, dict):
            for key, direction in reversed(list(order.items())):

                def sort_key(row: dict[str, Any], key: str = key) -> Any:
                    return to_int(row.get(key)) if key in ("ID", "SORT") else str(row.get(key))

                rows.sort(key=sort_key, reverse=str(direction).upper() == "DESC")
        # 50 to a page with START, like every legacy list (the docs' example pages with next())
        return legacy_page(rows, call.start)

    @method(f"{prefix}.get", "crm")
    def get(call: Call) -> Any:
        uf_id = to_int(get_ci(call.params, "id"))
        if uf_id <= 0:
            raise legacy("ID is not defined or invalid.")
        defn = call.portal.userfields.get(uf_id)
        if defn is None:
            raise ApiError("ERROR_NOT_FOUND", f"The entity with ID '{uf_id}' is not found.")
        if defn["ENTITY_ID"] != entity_id:
            raise legacy("Access denied.")
        return _wire(defn, None, True)


for _entity, _entity_id in ENTITY_BY_METHOD.items():
    _register(_entity, _entity_id)
