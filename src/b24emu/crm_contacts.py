"""``crm.contact.*``, ``crm.company.*``, multifields (§7.4.2) and ``crm.duplicate.findbycomm``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from b24emu import entities
from b24emu.crm_deals import set_bindings
from b24emu.entities import COMPANY, CONTACT, Kind
from b24emu.errors import core, legacy
from b24emu.params import as_list, get_ci
from b24emu.registry import Call, method
from b24emu.schema import MULTIFIELDS
from b24emu.wire import php_array, to_int, yn

if TYPE_CHECKING:
    from b24emu.portal import Portal

DEFAULT_VALUE_TYPE = {
    "PHONE": "WORK",
    "EMAIL": "WORK",
    "WEB": "WORK",
    "IM": "OTHER",
    "LINK": "USER",
}
EMAIL_LABEL = {
    "WORK": "Work e-mail",
    "HOME": "Personal e-mail",
    "MAILING": "Newsletter e-mail",
    "OTHER": "Other e-mail",
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _merge(portal: Portal, record: dict[str, Any], fields: dict[str, Any]) -> dict[str, list[Any]]:
    """New multifield lists: entries without ID are appended, with ID changed/deleted (§7.4.2)."""
    upper = {str(k).upper(): v for k, v in fields.items()}
    result: dict[str, list[Any]] = {}
    for type_id in MULTIFIELDS:
        if type_id not in upper:
            continue
        current = [dict(m) for m in record.get(type_id, [])]
        for entry in as_list(upper[type_id]):
            if not isinstance(entry, dict):
                continue
            entry = {str(k).upper(): v for k, v in entry.items()}
            value = str(entry.get("VALUE") or "").strip()
            entry_id = to_int(entry.get("ID"), 0)
            if entry_id > 0:
                existing = next((m for m in current if m["ID"] == str(entry_id)), None)
                if existing is None:
                    continue
                if yn(entry.get("DELETE")) == "Y" or not value:
                    current.remove(existing)
                    continue
                existing["VALUE"] = value
                if entry.get("VALUE_TYPE"):
                    existing["VALUE_TYPE"] = str(entry["VALUE_TYPE"]).upper()
            elif value:
                current.append(
                    {
                        "ID": None,
                        "VALUE_TYPE": str(
                            entry.get("VALUE_TYPE") or DEFAULT_VALUE_TYPE[type_id]
                        ).upper(),
                        "VALUE": value,
                        "TYPE_ID": type_id,
                    }
                )
        if type_id == "EMAIL":
            for item in current:
                if not _EMAIL.match(item["VALUE"]):
                    label = EMAIL_LABEL.get(item["VALUE_TYPE"], "E-mail")
                    raise core(f"The field `{label}` contains an invalid address")
        result[type_id] = current
    return result


def _commit_multi(portal: Portal, record: dict[str, Any], merged: dict[str, list[Any]]) -> None:
    for type_id, items in merged.items():
        for item in items:
            if item["ID"] is None:
                item["ID"] = str(portal.next_id("multifield"))
        if items:
            record[type_id] = items
        else:
            record.pop(type_id, None)
    record["HAS_PHONE"] = "Y" if record.get("PHONE") else "N"
    record["HAS_EMAIL"] = "Y" if record.get("EMAIL") else "N"
    record["HAS_IMOL"] = (
        "Y" if any(m["VALUE_TYPE"] == "IMOL" for m in record.get("IM", [])) else "N"
    )


def add_entity(portal: Portal, kind: Kind, fields: dict[str, Any], user_id: int) -> int:
    changes = entities.internalize(portal, kind, fields, creating=True)
    record = entities.blank(portal, kind)
    merged = _merge(portal, record, fields)
    entity_id = portal.next_id(kind.name.lower())
    now = portal.now_str()
    record.update(
        {
            "ID": str(entity_id),
            "OPENED": "Y",
            "ASSIGNED_BY_ID": str(user_id),
            "CREATED_BY_ID": str(user_id),
            "MODIFY_BY_ID": str(user_id),
            "DATE_CREATE": now,
            "DATE_MODIFY": now,
            "LAST_ACTIVITY_TIME": now,
            "LAST_ACTIVITY_BY": str(user_id),
        }
    )
    if kind is CONTACT:
        types = sorted(
            (s for s in portal.statuses if s["ENTITY_ID"] == "CONTACT_TYPE"),
            key=lambda s: int(s["SORT"]),
        )
        record.update({"EXPORT": "Y", "TYPE_ID": types[0]["STATUS_ID"] if types else None})
    else:
        record.update(
            {
                "COMPANY_TYPE": "CUSTOMER",
                "CURRENCY_ID": portal.currency,
                "REVENUE": "0",
                "IS_MY_COMPANY": "N",
                "TITLE": f"Компания #{entity_id}"
                if portal.lang == "ru"
                else f"Company #{entity_id}",
            }
        )
    record.update(changes)
    if kind is CONTACT:
        company_ids = [to_int(v) for v in as_list(get_ci(fields, "COMPANY_IDS"))]
        if company_ids and "COMPANY_ID" not in changes:
            record["COMPANY_ID"] = str(company_ids[0])
    _commit_multi(portal, record, merged)
    kind.records(portal)[entity_id] = record
    portal.events.emit(f"{kind.event_prefix}ADD", {"ID": entity_id}, user_id)
    return entity_id


def update_entity(
    portal: Portal, kind: Kind, entity_id: int, fields: dict[str, Any], user_id: int
) -> None:
    record = kind.records(portal)[entity_id]
    changes = entities.internalize(portal, kind, fields, creating=False)
    merged = _merge(portal, record, fields)
    record.update(changes)
    _commit_multi(portal, record, merged)
    record["DATE_MODIFY"] = portal.now_str()
    record["MODIFY_BY_ID"] = str(user_id)
    portal.events.emit(f"{kind.event_prefix}UPDATE", {"ID": entity_id}, user_id)


def _existing(call: Call, kind: Kind, missing: str) -> int:
    entity_id = entities.require_id(call.params)
    if entity_id not in kind.records(call.portal):
        raise legacy(missing)
    return entity_id


def _register(kind: Kind, update_missing: str) -> None:
    name = kind.name.lower()

    @method(f"crm.{name}.fields", "crm")
    def fields_(call: Call) -> Any:
        return entities.describe_fields(call.portal, kind)

    @method(f"crm.{name}.add", "crm")
    def add(call: Call) -> Any:
        return add_entity(call.portal, kind, entities.fields_param(call.params), call.user_id)

    @method(f"crm.{name}.get", "crm")
    def get(call: Call) -> Any:
        entity_id = _existing(call, kind, "Not found")
        if (name, entity_id) in call.portal.crm_hidden.get(call.user_id, ()):
            raise legacy("Access denied.")
        return entities.full(call.portal, kind, kind.records(call.portal)[entity_id])

    @method(f"crm.{name}.list", "crm")
    def list_(call: Call) -> Any:
        return entities.legacy_list(call, kind)

    @method(f"crm.{name}.update", "crm")
    def update(call: Call) -> Any:
        entity_id = _existing(call, kind, update_missing)
        update_entity(
            call.portal, kind, entity_id, entities.fields_param(call.params), call.user_id
        )
        return True

    @method(f"crm.{name}.delete", "crm")
    def delete(call: Call) -> Any:
        portal = call.portal
        entity_id = _existing(call, kind, "Not found")
        del kind.records(portal)[entity_id]
        if kind is CONTACT:
            for deal_id, bindings in list(portal.deal_contacts.items()):
                if any(b["CONTACT_ID"] == entity_id for b in bindings):
                    set_bindings(
                        portal, deal_id, [dict(b) for b in bindings if b["CONTACT_ID"] != entity_id]
                    )
        portal.events.emit(f"{kind.event_prefix}DELETE", {"ID": entity_id}, call.user_id)
        return True


_register(CONTACT, "Contact is not found")
_register(COMPANY, "Company is not found")


def normalize_phone(value: str) -> str:
    """Digits only, no extension, Russian trunk prefix 8 -> 7 (the portal's parser does more)."""
    value = re.split(r"(?i)\s*(?:ext\.?|доб\.?|#|;)", value)[0]
    digits = re.sub(r"\D", "", value)
    if len(digits) == 11 and digits.startswith("8"):
        digits = "7" + digits[1:]
    if len(digits) == 10:
        digits = "7" + digits
    return digits


@method("crm.duplicate.findbycomm", "crm")
def find_by_comm(call: Call) -> Any:
    portal = call.portal
    comm_type = str(get_ci(call.params, "type") or "").upper()
    if not comm_type:
        raise legacy("Communication type is not defined.")
    if comm_type not in ("PHONE", "EMAIL"):
        raise legacy(f"Communication type '{comm_type}' is not supported in current context.")
    values = [str(v) for v in as_list(get_ci(call.params, "values")) if str(v).strip()]
    if not values:
        raise legacy("Communication values is not defined.")
    entity_type = str(get_ci(call.params, "entity_type") or "").upper()
    if entity_type == "DEAL":
        raise legacy("Deal is not supported in current context.")
    kinds = {"CONTACT": CONTACT, "COMPANY": COMPANY}
    wanted = [entity_type] if entity_type else ["LEAD", "CONTACT", "COMPANY"]

    def norm(text: str) -> str:
        return normalize_phone(text) if comm_type == "PHONE" else text.strip().lower()

    needles = {norm(v) for v in values[:20]}
    found: dict[str, list[int]] = {}
    total = 0
    for name in wanted:
        kind = kinds.get(name)
        if kind is None or total >= 20:
            continue
        ids = [
            entity_id
            for entity_id, record in sorted(kind.records(portal).items())
            if any(norm(m["VALUE"]) in needles for m in record.get(comm_type, []))
        ]
        if ids:
            found[name] = ids
            total += len(ids)
    return php_array(found)
