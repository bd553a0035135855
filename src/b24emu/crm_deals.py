"""``crm.deal.*`` and ``crm.deal.contact.*`` (§7.1, §7.2)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from b24emu import entities
from b24emu.entities import DEAL
from b24emu.errors import legacy
from b24emu.params import as_list, get_ci
from b24emu.registry import Call, method
from b24emu.wire import fmt_date, money, to_int, yn

if TYPE_CHECKING:
    from b24emu.portal import Portal


def semantic(stage: dict[str, Any] | None) -> str:
    return (stage or {}).get("SEMANTICS") or "P"


def get_deal(portal: Portal, deal_id: int, message: str = "Not found") -> dict[str, Any]:
    record = portal.deals.get(deal_id)
    if record is None:
        raise legacy(message)
    return record


def touch(portal: Portal, record: dict[str, Any], user_id: int) -> None:
    record["DATE_MODIFY"] = portal.now_str()
    record["MODIFY_BY_ID"] = str(user_id)


def _apply_stage(
    portal: Portal, record: dict[str, Any], stage_id: str, user_id: int, explicit_close: bool
) -> None:
    old = record.get("STAGE_ID")
    old_semantic = semantic(portal.stage(old)) if old else "P"
    stage = portal.stage(stage_id)
    record["STAGE_ID"] = stage_id
    record["STAGE_SEMANTIC_ID"] = semantic(stage)
    record["CLOSED"] = "Y" if record["STAGE_SEMANTIC_ID"] in ("S", "F") else "N"
    stages = portal.stages(to_int(record.get("CATEGORY_ID")))
    record["IS_NEW"] = "Y" if stages and stages[0]["STATUS_ID"] == stage_id else "N"
    if old != stage_id:
        record["MOVED_TIME"] = portal.now_str()
        record["MOVED_BY_ID"] = str(user_id)
        closing = record["CLOSED"] == "Y" and old_semantic == "P"
        if closing and portal.close_date_sync and not explicit_close:
            record["CLOSEDATE"] = fmt_date(portal.today(), portal.tz)


def _valid_stage(portal: Portal, category_id: int, stage_id: Any) -> bool:
    return any(s["STATUS_ID"] == stage_id for s in portal.stages(category_id))


def set_bindings(portal: Portal, deal_id: int, items: list[dict[str, Any]]) -> None:
    """Replace the deal's contacts; the first ``IS_PRIMARY=Y`` (else the first) is primary."""
    bindings: list[dict[str, Any]] = []
    seen: set[int] = set()
    for index, item in enumerate(items):
        contact_id = to_int(item.get("CONTACT_ID"))
        if contact_id <= 0 or contact_id in seen or contact_id not in portal.contacts:
            continue
        seen.add(contact_id)
        sort = to_int(item.get("SORT"), 0) or (index + 1) * 10
        bindings.append(
            {
                "CONTACT_ID": contact_id,
                "SORT": sort,
                "ROLE_ID": 0,
                "IS_PRIMARY": yn(item.get("IS_PRIMARY")),
            }
        )
    primary = next(
        (b for b in bindings if b["IS_PRIMARY"] == "Y"), bindings[0] if bindings else None
    )
    for binding in bindings:
        binding["IS_PRIMARY"] = "Y" if binding is primary else "N"
    bindings.sort(key=lambda b: b["SORT"])
    portal.deal_contacts[deal_id] = bindings
    portal.deals[deal_id]["CONTACT_ID"] = str(primary["CONTACT_ID"]) if primary else None


def _contact_changes(portal: Portal, deal_id: int, fields: dict[str, Any]) -> None:
    upper = {str(k).upper(): v for k, v in fields.items()}
    if "CONTACT_IDS" in upper:
        ids = [to_int(v) for v in as_list(upper["CONTACT_IDS"])]
        set_bindings(portal, deal_id, [{"CONTACT_ID": i} for i in ids])
    elif "CONTACT_ID" in upper:
        contact_id = to_int(upper["CONTACT_ID"])
        current = portal.deal_contacts.get(deal_id, [])
        if contact_id <= 0:
            set_bindings(portal, deal_id, [])
            return
        items = [
            {"CONTACT_ID": b["CONTACT_ID"], "SORT": b["SORT"]}
            for b in current
            if b["CONTACT_ID"] != contact_id
        ]
        items.insert(0, {"CONTACT_ID": contact_id, "IS_PRIMARY": "Y", "SORT": 10})
        set_bindings(portal, deal_id, items)


def add_deal(portal: Portal, fields: dict[str, Any], user_id: int) -> int:
    changes = entities.internalize(portal, DEAL, fields, creating=True)
    category_id = to_int(changes.get("CATEGORY_ID") or 0)
    if category_id not in portal.deal_categories:
        raise legacy(f"Category with ID '{category_id}' is not found.")
    stages = portal.stages(category_id)
    stage_id = changes.pop("STAGE_ID", None)
    if not _valid_stage(portal, category_id, stage_id):
        stage_id = stages[0]["STATUS_ID"]
    deal_id = portal.next_id("deal")
    now = portal.now_str()
    today = portal.today()
    record = entities.blank(portal, DEAL)
    record.update(
        {
            "ID": str(deal_id),
            "TITLE": f"Сделка #{deal_id}" if portal.lang == "ru" else f"Deal #{deal_id}",
            "TYPE_ID": "SALE",
            "CURRENCY_ID": portal.currency,
            "OPPORTUNITY": money(0),
            "IS_MANUAL_OPPORTUNITY": "N",
            "TAX_VALUE": money(0),
            "COMPANY_ID": "0",
            "BEGINDATE": fmt_date(today, portal.tz),
            "CLOSEDATE": fmt_date(today + timedelta(days=7), portal.tz),
            "ASSIGNED_BY_ID": str(user_id),
            "CREATED_BY_ID": str(user_id),
            "MODIFY_BY_ID": str(user_id),
            "DATE_CREATE": now,
            "DATE_MODIFY": now,
            "OPENED": "Y",
            "COMMENTS": "",
            "SOURCE_ID": "",
            "SOURCE_DESCRIPTION": "",
            "LAST_ACTIVITY_TIME": now,
            "LAST_ACTIVITY_BY": str(user_id),
        }
    )
    record.update(changes)
    record["CATEGORY_ID"] = str(category_id)
    portal.deals[deal_id] = record
    _apply_stage(portal, record, str(stage_id), user_id, "CLOSEDATE" in changes)
    portal.deal_contacts[deal_id] = []
    _contact_changes(portal, deal_id, fields)
    portal.product_rows[deal_id] = []
    portal.events.emit("ONCRMDEALADD", {"ID": deal_id}, user_id)
    return deal_id


def update_deal(portal: Portal, deal_id: int, fields: dict[str, Any], user_id: int) -> None:
    record = get_deal(portal, deal_id)
    changes = entities.internalize(portal, DEAL, fields, creating=False)
    category_id = to_int(record["CATEGORY_ID"])
    stage_id = changes.pop("STAGE_ID", None)
    was_manual = record["IS_MANUAL_OPPORTUNITY"]
    record.update(changes)
    if stage_id is not None and _valid_stage(portal, category_id, stage_id):
        _apply_stage(portal, record, str(stage_id), user_id, "CLOSEDATE" in changes)
    _contact_changes(portal, deal_id, fields)
    if was_manual == "Y" and record["IS_MANUAL_OPPORTUNITY"] == "N":
        from b24emu.productrows import sync_owner

        sync_owner(portal, deal_id)
    touch(portal, record, user_id)
    portal.events.emit("ONCRMDEALUPDATE", {"ID": deal_id}, user_id)


def _stage_sort(portal: Portal) -> Any:
    def override(field: str, value: Any) -> Any:
        if field.upper() != "STAGE_ID":
            return None
        stage = portal.stage(str(value))
        return (int(stage["SORT"]), str(value)) if stage else (0, str(value))

    return override


@method("crm.deal.fields", "crm")
def deal_fields(call: Call) -> Any:
    return entities.describe_fields(call.portal, DEAL)


@method("crm.deal.add", "crm")
def deal_add(call: Call) -> Any:
    return add_deal(call.portal, entities.fields_param(call.params), call.user_id)


@method("crm.deal.get", "crm")
def deal_get(call: Call) -> Any:
    record = get_deal(call.portal, entities.require_id(call.params))
    if ("deal", int(record["ID"])) in call.portal.crm_hidden.get(call.user_id, ()):
        raise legacy("Access denied.")
    return entities.full(call.portal, DEAL, record)


@method("crm.deal.list", "crm")
def deal_list(call: Call) -> Any:
    return entities.legacy_list(call, DEAL, sort_override=_stage_sort(call.portal))


@method("crm.deal.update", "crm")
def deal_update(call: Call) -> Any:
    deal_id = entities.require_id(call.params)
    get_deal(call.portal, deal_id)
    update_deal(call.portal, deal_id, entities.fields_param(call.params), call.user_id)
    return True


@method("crm.deal.delete", "crm")
def deal_delete(call: Call) -> Any:
    portal = call.portal
    deal_id = entities.require_id(call.params)
    get_deal(portal, deal_id)
    del portal.deals[deal_id]
    portal.deal_contacts.pop(deal_id, None)
    portal.product_rows.pop(deal_id, None)
    portal.events.emit("ONCRMDEALDELETE", {"ID": deal_id}, call.user_id)
    return True


def _owner(call: Call) -> int:
    deal_id = to_int(get_ci(call.params, "id"))
    if deal_id <= 0:
        raise legacy("The parameter ownerEntityID is invalid or not defined.")
    get_deal(call.portal, deal_id, "Not found.")
    return deal_id


def _changed(call: Call, deal_id: int) -> None:
    touch(call.portal, call.portal.deals[deal_id], call.user_id)
    call.portal.events.emit("ONCRMDEALUPDATE", {"ID": deal_id}, call.user_id)


@method("crm.deal.contact.items.get", "crm")
def contact_items_get(call: Call) -> Any:
    deal_id = _owner(call)
    return [dict(b) for b in call.portal.deal_contacts.get(deal_id, [])]


@method("crm.deal.contact.items.set", "crm")
def contact_items_set(call: Call) -> Any:
    deal_id = _owner(call)
    items = get_ci(call.params, "items")
    if not isinstance(items, (list, dict)):
        raise legacy("The parameter items must be array.")
    set_bindings(call.portal, deal_id, [i for i in as_list(items) if isinstance(i, dict)])
    _changed(call, deal_id)
    return True


@method("crm.deal.contact.items.delete", "crm")
def contact_items_delete(call: Call) -> Any:
    deal_id = _owner(call)
    set_bindings(call.portal, deal_id, [])
    _changed(call, deal_id)
    return True


@method("crm.deal.contact.add", "crm")
def contact_add(call: Call) -> Any:
    deal_id = _owner(call)
    fields = entities.fields_param(call.params)
    contact_id = to_int(get_ci(fields, "CONTACT_ID"))
    if contact_id <= 0 or contact_id not in call.portal.contacts:
        raise legacy("The parameter fields[CONTACT_ID] is invalid or not defined.")
    current = call.portal.deal_contacts.get(deal_id, [])
    if any(b["CONTACT_ID"] == contact_id for b in current):
        return False
    items: list[dict[str, Any]] = [dict(b) for b in current]
    primary = yn(get_ci(fields, "IS_PRIMARY")) == "Y"
    if primary:
        for item in items:
            item["IS_PRIMARY"] = "N"
    sort = to_int(get_ci(fields, "SORT"), 0) or (max((b["SORT"] for b in current), default=0) + 10)
    items.append({"CONTACT_ID": contact_id, "SORT": sort, "IS_PRIMARY": "Y" if primary else "N"})
    set_bindings(call.portal, deal_id, items)
    _changed(call, deal_id)
    return True


@method("crm.deal.contact.delete", "crm")
def contact_delete(call: Call) -> Any:
    deal_id = _owner(call)
    fields = entities.fields_param(call.params)
    contact_id = to_int(get_ci(fields, "CONTACT_ID"))
    current = call.portal.deal_contacts.get(deal_id, [])
    if not any(b["CONTACT_ID"] == contact_id for b in current):
        return False
    set_bindings(call.portal, deal_id, [dict(b) for b in current if b["CONTACT_ID"] != contact_id])
    _changed(call, deal_id)
    return True
