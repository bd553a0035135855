"""Automation: ``bizproc.robot.*``, ``bizproc.activity.*``, ``bizproc.event.send`` (§11).

A robot (CRM automation rules) and an activity (the business-process designer) share one
parameter model; the portal keeps them apart (``portal.robots``, ``portal.bp_activities``, each
keyed ``<client_id>:<CODE>``). Registering, changing and listing them needs an application
context and an administrator (a webhook gets ``WRONG_AUTH_TYPE``, a plain user
``ACCESS_DENIED``). Running them is :mod:`b24emu.robots` (the portal's queue server posting to the
handler); the handler answers with ``bizproc.event.send`` on the call's ``event_token``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from b24emu.errors import ApiError
from b24emu.params import get_ci
from b24emu.registry import Call, method
from b24emu.robots import DEFAULT_LOG, RobotCall, find_call

FIELDS = (
    "HANDLER",
    "AUTH_USER_ID",
    "USE_SUBSCRIPTION",
    "NAME",
    "DESCRIPTION",
    "PROPERTIES",
    "RETURN_PROPERTIES",
    "DOCUMENT_TYPE",
    "FILTER",
    "USE_PLACEMENT",
    "PLACEMENT_HANDLER",
)
_CODE = re.compile(r"[a-zA-Z0-9._-]+")
_PROPERTY_KEY = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*")


def _invalid(text: str) -> ApiError:
    return ApiError("ERROR_ACTIVITY_VALIDATION_FAILURE", text)


def _denied() -> ApiError:
    return ApiError("ACCESS_DENIED", "Access denied!", 403)


def _admin(call: Call) -> None:
    user = call.portal.users.get(call.user_id) or {}
    if not user.get("ADMIN"):
        raise _denied()


def _code(value: Any) -> str:
    code = str(value or "").strip()
    if not code:
        raise _invalid("Empty activity code!")
    if not _CODE.fullmatch(code):
        raise _invalid("Wrong activity code!")
    return code


def _handler(value: Any) -> str:
    url = str(value or "").strip()
    parts = urlsplit(url)
    if url and parts.scheme not in ("http", "https"):
        raise ApiError("ERROR_UNSUPPORTED_PROTOCOL", "Unsupported handler protocol")
    if not url or not parts.hostname:
        raise ApiError("ERROR_WRONG_HANDLER_URL", "Wrong handler URL")
    return url


def _properties(value: Any) -> dict[str, Any]:
    if value in (None, "", []):
        return {}
    if not isinstance(value, dict):
        raise _invalid("Wrong properties array!")
    for key, prop in value.items():
        if not _PROPERTY_KEY.fullmatch(str(key)):
            raise _invalid(f"Wrong property key {key}!")
        if not isinstance(prop, dict):
            raise _invalid("Wrong properties array!")
        if not get_ci(prop, "Name"):
            raise _invalid(f"Empty property NAME {key}!")
    return dict(value)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v for v in value)


def _filter(value: Any) -> dict[str, Any]:
    if value in (None, "", []):
        return {}
    if not isinstance(value, dict) or not set(value) <= {"INCLUDE", "EXCLUDE"}:
        raise _invalid("Wrong activity FILTER!")
    for rules in value.values():
        if not isinstance(rules, list):
            raise _invalid("Wrong activity FILTER!")
        for rule in rules:
            if not (isinstance(rule, str) and rule) and not _strings(rule):
                raise _invalid("Wrong activity FILTER!")
    return dict(value)


def _document_type(value: Any) -> list[str] | None:
    if value in (None, "", []):
        return None
    if not _strings(value) or len(value) != 3:
        raise _invalid("Wrong activity DOCUMENT_TYPE!")
    return list(value)


def _checked(fields: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """The registration's fields, validated as ``bizproc.*.add`` does (``partial``: update)."""
    out: dict[str, Any] = {}
    for name in FIELDS:
        value = get_ci(fields, name)
        if value is None and partial:
            continue
        if name == "HANDLER":
            out[name] = _handler(value)
        elif name == "NAME":
            if not value:
                raise _invalid("Empty activity NAME!")
            out[name] = value
        elif name in ("PROPERTIES", "RETURN_PROPERTIES"):
            out[name] = _properties(value)
        elif name == "FILTER":
            out[name] = _filter(value)
        elif name == "DOCUMENT_TYPE":
            out[name] = _document_type(value)
        else:
            out[name] = value
    return out


def _tables(call: Call, robot: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """(this kind's registrations, the other kind's)."""
    portal = call.portal
    return (portal.robots, portal.bp_activities) if robot else (portal.bp_activities, portal.robots)


def _key(call: Call, code: str) -> str:
    return f"{call.auth.app.client_id}:{code}"  # type: ignore[union-attr]


def _add(call: Call, robot: bool) -> bool:
    _admin(call)
    if not call.params:
        raise _invalid("Empty data!")
    code = _code(get_ci(call.params, "CODE"))
    record = _checked(call.params, partial=False)
    mine, other = _tables(call, robot)
    key = _key(call, code)
    if key in mine:
        raise ApiError("ERROR_ACTIVITY_ALREADY_INSTALLED", "Activity or Robot already installed!")
    if key in other:  # one table inside Bitrix24: a code is the app's once (reading of §11.4)
        raise ApiError("ERROR_ACTIVITY_ADD_FAILURE", "Activity or Robot already added!")
    mine[key] = {"CODE": code, **record, "APP": call.auth.app.client_id}  # type: ignore[union-attr]
    return True


def _update(call: Call, robot: bool) -> bool:
    _admin(call)
    code = _code(get_ci(call.params, "CODE"))
    mine, _other = _tables(call, robot)
    key = _key(call, code)
    if key not in mine:
        raise ApiError("ERROR_ACTIVITY_NOT_FOUND", "Activity or Robot not found!")
    fields = get_ci(call.params, "FIELDS")
    if not isinstance(fields, dict) or not fields:
        raise _invalid("No fields to update")
    changes = _checked(fields, partial=True)
    if not changes:
        raise _invalid("No fields to update")
    mine[key] = {**mine[key], **changes}
    return True


def _list(call: Call, robot: bool) -> list[str]:
    _admin(call)
    prefix = _key(call, "")
    return [r["CODE"] for key, r in _tables(call, robot)[0].items() if key.startswith(prefix)]


def _delete(call: Call, robot: bool) -> bool:
    _admin(call)
    code = _code(get_ci(call.params, "CODE"))
    if _tables(call, robot)[0].pop(_key(call, code), None) is None:
        raise ApiError("ERROR_ACTIVITY_NOT_FOUND", "Activity or Robot not found!")
    return True


def _bound(func: Callable[[Call, bool], Any], robot: bool) -> Callable[[Call], Any]:
    def handle(call: Call) -> Any:
        return func(call, robot)

    return handle


for _kind, _robot in (("robot", True), ("activity", False)):
    for _verb, _func in (("add", _add), ("update", _update), ("list", _list), ("delete", _delete)):
        method(f"bizproc.{_kind}.{_verb}", "bizproc", app_only=True)(_bound(_func, _robot))


def _waiting(call: Call) -> RobotCall:
    """The call ``EVENT_TOKEN`` names, if it still waits: a token this portal issued, of a robot
    or activity still registered, that waits for an answer and has not had one."""
    portal = call.portal
    found = find_call(portal, str(get_ci(call.params, "EVENT_TOKEN") or ""))
    if found is None or found.state != "waiting" or not found.subscribed:
        raise _denied()
    if found.key not in (portal.robots if found.kind == "robot" else portal.bp_activities):
        raise _denied()
    return found


@method("bizproc.event.send", "bizproc")
def event_send(call: Call) -> Any:
    """The handler's answer: a waiting call's token, once; anything else is ``ACCESS_DENIED``."""
    found = _waiting(call)
    values = get_ci(call.params, "RETURN_VALUES")
    message = get_ci(call.params, "LOG_MESSAGE")
    found.finish(
        values if isinstance(values, dict) else {},
        str(message) if message not in (None, "") else DEFAULT_LOG,
    )
    call.portal.robot_results[found.token] = {
        "RETURN_VALUES": found.return_values,
        "LOG_MESSAGE": found.log[-1],
    }
    return True


@method("bizproc.activity.log", "bizproc")
def activity_log(call: Call) -> Any:
    _admin(call)
    message = str(get_ci(call.params, "LOG_MESSAGE") or "")
    if not message:
        raise ApiError("ERROR_EMPTY_LOG_MESSAGE", "Empty log message!")
    _waiting(call).log.append(message)
    return True
