"""What managers see: ``im.notify*``, timeline comments, to-do activities (§10)."""

from __future__ import annotations

from typing import Any

from b24emu.errors import ApiError, legacy
from b24emu.listing import legacy_page, matches, order_rows, parse_filter
from b24emu.params import get_ci
from b24emu.registry import Call, method
from b24emu.wire import fmt_datetime, parse_datetime, to_int

OWNER_TYPES = {1: "lead", 2: "deal", 3: "contact", 4: "company"}


def _notify(call: Call, kind: str) -> int:
    portal = call.portal
    user_id = to_int(get_ci(call.params, "USER_ID"))
    message = str(get_ci(call.params, "MESSAGE") or "").strip()
    if user_id <= 0:
        raise ApiError("USER_ID_EMPTY", "User ID can't be empty")
    if not message:
        raise ApiError("MESSAGE_EMPTY", "Message can't be empty")
    tag = get_ci(call.params, "TAG")
    if tag:
        portal.notifications[:] = [n for n in portal.notifications if n["TAG"] != tag]
    notice_id = portal.next_id("notification")
    portal.notifications.append(
        {
            "ID": notice_id,
            "TYPE": kind,
            "USER_ID": user_id,
            "FROM_USER_ID": call.user_id if kind == "USER" else None,
            "MESSAGE": message,
            "MESSAGE_OUT": get_ci(call.params, "MESSAGE_OUT"),
            "TAG": tag,
            "SUB_TAG": get_ci(call.params, "SUB_TAG"),
            "ATTACH": get_ci(call.params, "ATTACH"),
            "DATE": portal.now_str(),
        }
    )
    return notice_id


@method("im.notify.system.add", "im")
def notify_system(call: Call) -> Any:
    return _notify(call, "SYSTEM")


@method("im.notify.personal.add", "im")
def notify_personal(call: Call) -> Any:
    return _notify(call, "USER")


@method("im.notify", "im")
def notify(call: Call) -> Any:
    kind = str(get_ci(call.params, "TYPE") or "USER").upper()
    return _notify(call, "SYSTEM" if kind == "SYSTEM" else "USER")


def _owner_exists(call: Call, entity_type: str, entity_id: int) -> bool:
    collection = {
        "deal": call.portal.deals,
        "contact": call.portal.contacts,
        "company": call.portal.companies,
    }.get(entity_type)
    return collection is not None and entity_id in collection


@method("crm.timeline.comment.add", "crm")
def comment_add(call: Call) -> Any:
    fields = call.params.get("fields")  # only the lowercase key since crm 23.100.0
    if not isinstance(fields, dict):
        raise legacy("Parameter 'fields' must be array.")
    entity_type = str(fields.get("ENTITY_TYPE") or "").lower()
    entity_id = to_int(fields.get("ENTITY_ID"))
    comment = str(fields.get("COMMENT") or "")
    if entity_id <= 0 or not entity_type:
        raise legacy("The parameter ENTITY_ID or ENTITY_TYPE is invalid or not defined.")
    if not comment.strip():
        raise legacy("Empty comment message.")
    if not _owner_exists(call, entity_type, entity_id):
        raise legacy("Not found")
    comment_id = call.portal.next_id("timeline")
    call.portal.timeline_comments[comment_id] = {
        "ID": str(comment_id),
        "CREATED": call.portal.now_str(),
        "ENTITY_ID": str(entity_id),
        "ENTITY_TYPE": entity_type,
        "AUTHOR_ID": str(call.user_id),
        "COMMENT": comment,
        "FILES": [],
    }
    call.portal.events.emit("ONCRMTIMELINECOMMENTADD", {"ID": comment_id}, call.user_id)
    return comment_id


@method("crm.timeline.comment.get", "crm")
def comment_get(call: Call) -> Any:
    found = call.portal.timeline_comments.get(to_int(get_ci(call.params, "id")))
    if found is None:
        raise legacy("Not found")
    return dict(found)


@method("crm.timeline.comment.list", "crm")
def comment_list(call: Call) -> Any:
    portal = call.portal
    raw = get_ci(call.params, "filter") or {}
    if not isinstance(raw, dict) or not raw.get("ENTITY_ID") or not raw.get("ENTITY_TYPE"):
        raise legacy("ENTITY_ID and ENTITY_TYPE are required in filter.")
    raw = {**raw, "ENTITY_TYPE": str(raw["ENTITY_TYPE"]).lower()}
    group = parse_filter(raw)

    def resolve(row: dict[str, Any], field: str) -> tuple[Any, str] | None:
        if field not in row:
            return None
        kind = "num" if field in ("ID", "ENTITY_ID", "AUTHOR_ID") else "str"
        return row[field], "date" if field == "CREATED" else kind

    rows = [dict(r) for _, r in sorted(portal.timeline_comments.items())]
    rows = [r for r in rows if matches(r, group, resolve, portal.tz)]
    rows = order_rows(rows, get_ci(call.params, "order") or {"CREATED": "DESC"}, resolve, portal.tz)
    return legacy_page(rows, call.start)


@method("crm.activity.todo.add", "crm")
def todo_add(call: Call) -> Any:
    portal = call.portal
    for name in ("ownerTypeId", "ownerId", "deadline"):
        if get_ci(call.params, name) in (None, ""):
            raise ApiError(100, f"Could not find value for parameter {{{name}}}")
    owner_type = to_int(get_ci(call.params, "ownerTypeId"))
    owner_id = to_int(get_ci(call.params, "ownerId"))
    if not _owner_exists(call, OWNER_TYPES.get(owner_type, ""), owner_id):
        raise ApiError("NOT_FOUND", "Element not found")
    deadline = parse_datetime(get_ci(call.params, "deadline"), portal.tz)
    if deadline is None:
        raise ApiError("INVALID_ARG_VALUE", "Invalid value for parameter {deadline}")
    activity_id = portal.next_id("activity")
    portal.activities[activity_id] = {
        "id": activity_id,
        "ownerTypeId": owner_type,
        "ownerId": owner_id,
        "deadline": fmt_datetime(deadline, portal.tz),
        "title": get_ci(call.params, "title") or "",
        "description": get_ci(call.params, "description") or "",
        "responsibleId": to_int(get_ci(call.params, "responsibleId"), call.user_id),
        "pingOffsets": get_ci(call.params, "pingOffsets") or [],
        "colorId": get_ci(call.params, "colorId"),
        "completed": "N",
        "created": portal.now_str(),
        "authorId": call.user_id,
    }
    portal.events.emit("ONCRMACTIVITYADD", {"ID": activity_id}, call.user_id)
    return {"id": activity_id}
