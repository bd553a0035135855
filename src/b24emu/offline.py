"""Offline events (§6.7): a queue per application (and ``auth_connector``) on the portal.

``event.bind`` with ``event_type=offline`` (no handler, administrators only) makes the portal
record the event instead of POSTing it. The queue keeps the latest state per object: an event
already waiting for the same object (same name and data, so the same ``MESSAGE_ID``) has its
``TIMESTAMP_X`` moved, not a second record. A record reserved by a process (``clear=0``) is not
touched: a later change of its object is a new record, so that clearing the reserved one loses
nothing.

``event.offline.get`` returns and deletes (``clear=1``, the default) or reserves under a
``process_id`` (``clear=0``) the first ``limit`` records (default 50) by ``order`` (default
``TIMESTAMP_X`` ascending); with a ``process_id`` it reads that process's unprocessed records
again. The docs leave open whether unreserved records come along then; by default they do (the
process takes more), ``strict_reread`` gives only the process's own. ``event.offline.clear``,
``.error`` and ``.list`` work on the queue (records marked erroneous are read with ``error=1``,
whichever process marked them); ``ONOFFLINEEVENT`` (an online binding) tells a
handler that records are waiting, at most once per hit (``minTimeout`` 0) or per ``minTimeout``
seconds (default 1). ``feature.get`` answers ``rest_offline_extended`` and
``rest_auth_connector`` from :attr:`OfflineQueues.features`; without ``rest_offline_extended``,
``clear=0`` is refused.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from b24emu.auth import new_token
from b24emu.errors import ApiError
from b24emu.listing import legacy_page, matches, order_rows, parse_filter
from b24emu.params import as_list, get_ci
from b24emu.registry import Call, method
from b24emu.wire import fmt_datetime, php_truthy, to_int

if TYPE_CHECKING:
    from b24emu.events import Binding
    from b24emu.portal import Portal

SIGNAL_EVENT = "ONOFFLINEEVENT"
GET_LIMIT = 50
GET_LIMIT_MAX = 1000  # the emulator's cap on ``limit`` (the docs name none)


@dataclass
class Record:
    id: int
    app: str  # the application's client_id
    connector: str  # the ``auth_connector`` it was bound with ("" = none)
    event: str
    data: dict[str, Any]
    message_id: str
    stamp: datetime
    process_id: str = ""
    error: bool = False

    def row(self, portal: Portal, *, state: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ID": str(self.id),
            "TIMESTAMP_X": fmt_datetime(self.stamp, portal.tz),
            "EVENT_NAME": self.event,
            "EVENT_DATA": self.data or False,
            "EVENT_ADDITIONAL": False,
            "MESSAGE_ID": self.message_id,
        }
        if state:
            out["PROCESS_ID"] = self.process_id
            out["ERROR"] = "1" if self.error else "0"
        return out


def _resolve(record: Record, name: str) -> tuple[Any, str] | None:
    fields: dict[str, tuple[Any, str]] = {
        "ID": (record.id, "num"),
        "TIMESTAMP_X": (record.stamp, "date"),
        "EVENT_NAME": (record.event, "str"),
        "MESSAGE_ID": (record.message_id, "str"),
        "PROCESS_ID": (record.process_id, "str"),
        "ERROR": (1 if record.error else 0, "num"),
    }
    return fields.get(name.upper())


class OfflineQueues:
    """Every application's offline queue on one portal, and the knobs of their reading."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.records: dict[int, Record] = {}
        #: ``process_id`` re-reads only that process's records (no unreserved ones come along)
        self.strict_reread = False
        #: ``event.offline.*`` for administrators only (the reference's reading; the docs say
        #: any user)
        self.admin_only = False
        #: ``feature.get`` answers; ``rest_offline_extended`` = "N" refuses ``clear=0``
        self.features = {"rest_offline_extended": "Y", "rest_auth_connector": "Y"}
        self._signalled: dict[int, float] = {}
        self._lock = threading.Lock()

    # -- recording ------------------------------------------------------------------------
    def record(self, binding: Binding, event: str, data: dict[str, Any]) -> None:
        """``event`` happened for an offline ``binding``: add or refresh its record."""
        portal = self.portal
        app, connector = binding.app.client_id, binding.connector
        digest = json.dumps([event, data], sort_keys=True, ensure_ascii=False)
        message_id = hashlib.md5(digest.encode(), usedforsecurity=False).hexdigest()
        with self._lock:
            for rec in self.records.values():
                if (
                    rec.app == app
                    and rec.connector == connector
                    and rec.message_id == message_id
                    and not rec.process_id
                    and not rec.error
                ):
                    rec.stamp = portal.now()
                    break
            else:
                rid = portal.next_id("event_offline")
                self.records[rid] = Record(
                    rid, app, connector, event, data, message_id, portal.now()
                )
        self._signal(binding)

    def _signal(self, offline: Binding) -> None:
        """``ONOFFLINEEVENT`` to the application's handlers bound for it, within their pace."""
        bus = self.portal.events
        for binding in list(bus.bindings.values()):
            if binding.event != SIGNAL_EVENT or binding.app is not offline.app or binding.offline:
                continue
            pause = float(to_int((binding.options or {}).get("minTimeout"), 1))
            now = time.monotonic()
            if pause > 0:
                with self._lock:
                    if now - self._signalled.get(binding.id, -1e9) < pause:
                        continue
                    self._signalled[binding.id] = now
            bus.signal(binding)  # pause 0: one per hit (identical events in a hit collapse)

    def drop_app(self, client_id: str) -> None:
        with self._lock:
            self.records = {k: r for k, r in self.records.items() if r.app != client_id}

    # -- reading --------------------------------------------------------------------------
    def mine(self, call: Call) -> list[Record]:
        app = call.auth.app
        assert app is not None
        if self.admin_only and not call.portal.users.get(call.user_id, {}).get("ADMIN"):
            raise ApiError("ACCESS_DENIED", "Access denied!", 403)
        connector = str(get_ci(call.params, "auth_connector") or "")
        return [
            r for r in self.records.values() if r.app == app.client_id and r.connector == connector
        ]


def queues(call: Call) -> OfflineQueues:
    return call.portal.events.offline


def _process_id(call: Call) -> str:
    pid = str(get_ci(call.params, "process_id") or "").strip()
    if not pid:
        raise ApiError(
            "ERROR_ARGUMENT",
            "Argument 'process_id' is null or empty",
            extra={"argument": "PROCESS_ID"},
        )
    return pid


@method("event.offline.get", "basic", app_only=True)
def offline_get(call: Call) -> Any:
    q = queues(call)
    params = call.params
    clear = php_truthy(get_ci(params, "clear", default="1"))
    if not clear and q.features.get("rest_offline_extended") == "N":
        raise ApiError("ACCESS_DENIED", "Access denied! Extended offline events are not available")
    want_error = php_truthy(get_ci(params, "error", default="0"))
    pid = str(get_ci(params, "process_id") or "").strip()
    taken = ({pid} if q.strict_reread else {"", pid}) if pid else {""}
    with q._lock:
        rows = [
            r
            for r in q.mine(call)
            if r.error == want_error and (want_error or r.process_id in taken)
        ]
        rows = [
            r
            for r in rows
            if matches(r, parse_filter(get_ci(params, "filter")), _resolve, call.portal.tz)
        ]
        rows.sort(key=lambda r: r.id)
        order = get_ci(params, "order") or {"TIMESTAMP_X": "ASC"}
        rows = order_rows(rows, order, _resolve, call.portal.tz)
        limit = max(1, min(to_int(get_ci(params, "limit"), GET_LIMIT) or GET_LIMIT, GET_LIMIT_MAX))
        rows = rows[:limit]
        if clear:
            for r in rows:
                q.records.pop(r.id, None)
        else:
            pid = pid or new_token(16)
            for r in rows:
                r.process_id = pid
    return {"process_id": pid or None, "events": [r.row(call.portal) for r in rows]}


def _chosen(call: Call, pid: str) -> list[Record]:
    rows = [r for r in queues(call).mine(call) if r.process_id == pid]
    ids = as_list(get_ci(call.params, "id"))
    if ids:
        wanted = {to_int(i) for i in ids}
        return [r for r in rows if r.id in wanted]
    messages = as_list(get_ci(call.params, "message_id"))
    if messages:
        return [r for r in rows if r.message_id in {str(m) for m in messages}]
    return rows


@method("event.offline.clear", "basic", app_only=True)
def offline_clear(call: Call) -> Any:
    pid = _process_id(call)
    q = queues(call)
    with q._lock:
        for r in _chosen(call, pid):
            q.records.pop(r.id, None)
    return True


@method("event.offline.error", "basic", app_only=True)
def offline_error(call: Call) -> Any:
    pid = _process_id(call)
    q = queues(call)
    messages = {str(m) for m in as_list(get_ci(call.params, "message_id"))}
    with q._lock:
        for r in q.mine(call):
            if r.process_id == pid and r.message_id in messages:
                r.error = True
    return True


@method("event.offline.list", "basic", app_only=True)
def offline_list(call: Call) -> Any:
    q = queues(call)
    tz = call.portal.tz
    with q._lock:
        rows = [
            r
            for r in q.mine(call)
            if matches(r, parse_filter(get_ci(call.params, "filter")), _resolve, tz)
        ]
    rows.sort(key=lambda r: r.id)
    rows = order_rows(rows, get_ci(call.params, "order") or {"ID": "ASC"}, _resolve, tz)
    page = legacy_page(rows, call.start)
    page.result = [r.row(call.portal, state=True) for r in page.result]
    return page


@method("feature.get", "basic")
def feature_get(call: Call) -> Any:
    code = str(get_ci(call.params, "CODE") or "").strip()
    if not code or code == "0":
        raise ApiError("CODE_EMPTY", "CODE can't be empty")
    return {"value": call.portal.events.offline.features.get(code, "Y")}
