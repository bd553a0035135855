"""Application-context methods: ``event.*``, ``placement.*``, ``bizproc.robot.*``; ``app.info``,
``profile``, ``user.current`` (§6.2–§6.4, §11.1, §12)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from b24emu.errors import ApiError, core
from b24emu.events import Binding
from b24emu.params import get_ci
from b24emu.registry import Call, method
from b24emu.wire import to_int

CRM_EVENTS = [
    f"ONCRM{entity}{action}"
    for entity in (
        "DEAL",
        "CONTACT",
        "COMPANY",
        "LEAD",
        "PRODUCT",
        "PRODUCTSECTION",
        "PRODUCTPROPERTY",
        "TIMELINECOMMENT",
        "ACTIVITY",
        "DEALUSERFIELD",
        "CONTACTUSERFIELD",
        "COMPANYUSERFIELD",
    )
    for action in ("ADD", "UPDATE", "DELETE")
]
KNOWN_EVENTS = frozenset(
    [
        *CRM_EVENTS,
        "ONCRMDEALMOVETOCATEGORY",
        "ONAPPINSTALL",
        "ONAPPUNINSTALL",
        "ONAPPUPDATE",
        "ONAPPTEST",
        "ONUSERADD",
        "ONOFFLINEEVENT",
    ]
)
PLACEMENTS_OTHER = frozenset(
    {
        "DEFAULT",
        "LEFT_MENU",
        "REST_APP_URI",
        "PAGE_BACKGROUND_WORKER",
        "USER_PROFILE_MENU",
        "USER_PROFILE_TOOLBAR",
    }
)


def _argument(name: str) -> ApiError:
    return ApiError(
        "ERROR_ARGUMENT", f"Argument '{name}' is null or empty", extra={"argument": name}
    )


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ApiError("ERROR_UNSUPPORTED_PROTOCOL", "Unsupported event handler protocol")
    if "." not in (parts.hostname or ""):
        raise ApiError("ERROR_WRONG_HANDLER_URL", "Wrong handler URL")


def _bind_offline(call: Call, event: str) -> bool:
    """``event_type=offline`` (§6.7): no handler; administrators only."""
    portal, app = call.portal, call.auth.app
    assert app is not None
    if not portal.users.get(call.user_id, {}).get("ADMIN"):
        raise ApiError(
            "ACCESS_DENIED",
            "Access denied! Offline events binding requires administrator access rights",
            403,
        )
    connector = str(get_ci(call.params, "auth_connector") or "")
    for binding in portal.events.bindings.values():
        if (
            binding.app is app
            and binding.offline
            and binding.event == event
            and binding.connector == connector
        ):
            raise core("Unable to set event handler: Handler already binded")
    binding_id = portal.next_id("event_handler")
    portal.events.bindings[binding_id] = Binding(
        binding_id, event, "", app, 0, call.user_id, offline=True, connector=connector
    )
    return True


@method("event.bind", "basic", app_only=True)
def event_bind(call: Call) -> Any:
    portal, app = call.portal, call.auth.app
    assert app is not None
    event = str(get_ci(call.params, "event") or "").strip().upper()
    if not event:
        raise _argument("EVENT")
    if event not in KNOWN_EVENTS:
        raise ApiError("ERROR_EVENT_NOT_FOUND", "Event not found")
    if str(get_ci(call.params, "event_type") or "online").lower() == "offline":
        return _bind_offline(call, event)
    handler = str(get_ci(call.params, "handler") or "").strip()
    if not handler:
        raise _argument("HANDLER")
    _check_url(handler)
    auth_type = to_int(get_ci(call.params, "auth_type"), 0)
    for binding in portal.events.bindings.values():
        if (
            binding.app is app
            and not binding.offline
            and binding.event == event
            and binding.handler == handler
            and binding.auth_type == auth_type
        ):
            raise core("Unable to set event handler: Handler already binded")
    options = get_ci(call.params, "options")
    binding_id = portal.next_id("event_handler")
    portal.events.bindings[binding_id] = Binding(
        binding_id,
        event,
        handler,
        app,
        auth_type,
        call.user_id,
        options=dict(options) if isinstance(options, dict) else None,
    )
    return True


@method("event.unbind", "basic", app_only=True)
def event_unbind(call: Call) -> Any:
    portal, app = call.portal, call.auth.app
    event = str(get_ci(call.params, "event") or "").strip().upper()
    handler = str(get_ci(call.params, "handler") or "").strip()
    auth_type = get_ci(call.params, "auth_type")
    offline = str(get_ci(call.params, "event_type") or "online").lower() == "offline"
    connector = str(get_ci(call.params, "auth_connector") or "")
    removed = [
        key
        for key, b in portal.events.bindings.items()
        if b.app is app
        and b.event == event
        and b.offline == offline
        and (
            b.connector == connector
            if offline
            else (not handler or b.handler == handler)
            and (auth_type is None or b.auth_type == to_int(auth_type))
        )
    ]
    for key in removed:
        del portal.events.bindings[key]
    return {"count": len(removed)}


@method("event.get", "basic", app_only=True)
def event_get(call: Call) -> Any:
    out: list[dict[str, Any]] = []
    for b in call.portal.events.bindings.values():
        if b.app is not call.auth.app:
            continue
        row: dict[str, Any] = {
            "event": b.event,
            "handler": b.handler,
            "auth_type": str(b.auth_type),
            "offline": int(b.offline),
        }
        if b.offline and b.connector:
            row["connector_id"] = b.connector
        out.append(row)
    return out


@method("events", "basic")
def events_list(call: Call) -> Any:
    return sorted(KNOWN_EVENTS)


@method("placement.bind", "placement", app_only=True)
def placement_bind(call: Call) -> Any:
    code = str(get_ci(call.params, "PLACEMENT") or "").strip().upper()
    if not code:
        raise _argument("PLACEMENT")
    if not (code.startswith("CRM_") or code in PLACEMENTS_OTHER):
        raise ApiError("ERROR_PLACEMENT_NOT_FOUND", "Placement not found")
    handler = str(get_ci(call.params, "HANDLER") or "").strip()
    if not handler:
        raise ApiError("EMPTY_ERROR_HANDLER_URL", "Empty handler URL")
    _check_url(handler)
    call.portal.placements.append(
        {
            "placement": code,
            "handler": handler,
            "app": call.auth.app.client_id,  # type: ignore[union-attr]
            "title": get_ci(call.params, "TITLE") or "",
            "description": get_ci(call.params, "DESCRIPTION") or "",
            "options": get_ci(call.params, "OPTIONS") or [],
            "langAll": get_ci(call.params, "LANG_ALL") or [],
        }
    )
    return True


@method("placement.get", "placement", app_only=True)
def placement_get(call: Call) -> Any:
    client_id = call.auth.app.client_id  # type: ignore[union-attr]
    return [
        {k: v for k, v in p.items() if k != "app"}
        for p in call.portal.placements
        if p["app"] == client_id
    ]


@method("placement.unbind", "placement", app_only=True)
def placement_unbind(call: Call) -> Any:
    client_id = call.auth.app.client_id  # type: ignore[union-attr]
    code = str(get_ci(call.params, "PLACEMENT") or "").upper()
    handler = get_ci(call.params, "HANDLER")
    before = len(call.portal.placements)
    call.portal.placements[:] = [
        p
        for p in call.portal.placements
        if not (
            p["app"] == client_id
            and p["placement"] == code
            and (handler is None or p["handler"] == handler)
        )
    ]
    return {"count": before - len(call.portal.placements)}


def _robot_error(text: str) -> ApiError:
    return ApiError("ERROR_ACTIVITY_VALIDATION_FAILURE", text)


@method("bizproc.robot.add", "bizproc", app_only=True)
def robot_add(call: Call) -> Any:
    params = call.params
    code = str(get_ci(params, "CODE") or "")
    if not params:
        raise _robot_error("Empty data!")
    if not code:
        raise _robot_error("Empty activity code!")
    if not re.fullmatch(r"[a-zA-Z0-9._-]+", code):
        raise _robot_error("Wrong activity code!")
    handler = str(get_ci(params, "HANDLER") or "")
    if not handler:
        raise ApiError("ERROR_WRONG_HANDLER_URL", "Wrong handler URL")
    _check_url(handler)
    if not get_ci(params, "NAME"):
        raise _robot_error("Empty activity NAME!")
    key = f"{call.auth.app.client_id}:{code}"  # type: ignore[union-attr]
    if key in call.portal.robots:
        raise ApiError("ERROR_ACTIVITY_ALREADY_INSTALLED", "Activity or Robot already installed!")
    call.portal.robots[key] = {"CODE": code, "HANDLER": handler, **params}
    return True


@method("bizproc.robot.list", "bizproc", app_only=True)
def robot_list(call: Call) -> Any:
    prefix = f"{call.auth.app.client_id}:"  # type: ignore[union-attr]
    return [r["CODE"] for key, r in call.portal.robots.items() if key.startswith(prefix)]


@method("bizproc.robot.delete", "bizproc", app_only=True)
def robot_delete(call: Call) -> Any:
    key = f"{call.auth.app.client_id}:{get_ci(call.params, 'CODE')}"  # type: ignore[union-attr]
    if call.portal.robots.pop(key, None) is None:
        raise ApiError("ERROR_ACTIVITY_NOT_FOUND", "Activity or Robot not found!")
    return True


@method("app.info", "basic")
def app_info(call: Call) -> Any:
    portal, app = call.portal, call.auth.app
    family = portal.license.split("_", 1)[-1]
    license_info = {
        "LICENSE": portal.license,
        "LICENSE_TYPE": family,
        "LICENSE_FAMILY": re.sub(r"\d+$", "", family),
    }
    if app is None:
        scopes = sorted(call.auth.scopes) if call.auth.scopes is not None else []
        return {"SCOPE": scopes, **license_info}
    return {
        "ID": app.app_id,
        "CODE": app.client_id,
        "VERSION": app.version,
        "STATUS": app.status,
        "INSTALLED": app.installed,
        "PAYMENT_EXPIRED": "N",
        "DAYS": None,
        "LANGUAGE_ID": portal.lang,
        **license_info,
    }


def _user(call: Call) -> dict[str, Any]:
    return call.portal.users.get(call.user_id) or {"ID": str(call.user_id), "ACTIVE": False}


@method("profile", "basic")
def profile(call: Call) -> Any:
    user = _user(call)
    if not user.get("ACTIVE"):
        return {}
    return {
        "ID": user["ID"],
        "ADMIN": bool(user.get("ADMIN")),
        "NAME": user.get("NAME", ""),
        "LAST_NAME": user.get("LAST_NAME", ""),
        "PERSONAL_GENDER": "",
        "TIME_ZONE": "",
    }


@method("user.current", "user")
def user_current(call: Call) -> Any:
    user = _user(call)
    portal = call.portal
    now = portal.now()
    return {
        "ID": user["ID"],
        "ACTIVE": bool(user.get("ACTIVE")),
        "NAME": user.get("NAME", ""),
        "LAST_NAME": user.get("LAST_NAME", ""),
        "EMAIL": user.get("EMAIL", ""),
        "LAST_LOGIN": now.replace(microsecond=0).isoformat(),
        "DATE_REGISTER": now.replace(hour=0, minute=0, second=0, microsecond=0).isoformat(),
        "IS_ONLINE": "Y",
        "LAST_ACTIVITY_DATE": now.strftime("%Y-%m-%d %H:%M:%S"),
        "PERSONAL_GENDER": "",
        "PERSONAL_BIRTHDAY": "",
        "WORK_POSITION": "",
        "UF_EMPLOYMENT_DATE": "",
        "UF_DEPARTMENT": list(user.get("UF_DEPARTMENT", [])),
    }
