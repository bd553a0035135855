"""Outbound events (§6): form-encoded POSTs from a background sender, at most once, no retry.

Events raised during one "hit" (one HTTP request or one ``portal.call``) are collected,
identical ones for the same handler collapsed (§6.1), and queued when the hit ends. A sender
thread delivers them; faults (drop / duplicate / delay / reorder) are applied there.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx

from b24emu.offline import OfflineQueues
from b24emu.params import flatten_form

if TYPE_CHECKING:
    from b24emu.auth import App
    from b24emu.portal import Portal

log = logging.getLogger("b24emu.events")
REORDER_GATHER_SECONDS = 0.1


@dataclass
class Binding:
    id: int
    event: str
    handler: str
    app: App
    auth_type: int  # 0 = the user whose action raised the event
    owner_id: int
    offline: bool = False  # recorded in the portal's queue instead of POSTed (b24emu.offline)
    connector: str = ""  # the ``auth_connector`` an offline binding was made with
    options: dict[str, Any] | None = None  # e.g. ``minTimeout`` of ONOFFLINEEVENT


@dataclass
class Outbound:
    url: str
    payload: dict[str, Any]  # without ``ts``; it is stamped when sent
    not_before: float


class EventBus:
    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.bindings: dict[int, Binding] = {}
        self.offline = OfflineQueues(portal)
        self._local = threading.local()
        self._cond = threading.Condition()
        self._pending: list[Outbound] = []
        self._in_flight = 0
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.delivered: list[dict[str, Any]] = []  # every POST made, for debugging/tests

    # -- collecting -------------------------------------------------------------------------
    @contextmanager
    def hit(self, automation: bool = False) -> Iterator[None]:
        """One server hit; ``automation`` hits raise events without user tokens (§6.5)."""
        depth = getattr(self._local, "depth", 0)
        if depth == 0:
            self._local.buffer = {}
            self._local.tokens = {}
            self._local.automation = automation
        self._local.depth = depth + 1
        try:
            yield
        finally:
            self._local.depth -= 1
            if self._local.depth == 0:
                buffered = list(self._local.buffer.values())
                self._local.buffer = {}
                self._local.automation = False
                self._enqueue(buffered)

    @contextmanager
    def acting(self, connector: str) -> Iterator[None]:
        """A call made with ``auth_connector``: its changes are not queued for that connector's
        offline bindings (§6.7, loop prevention)."""
        before = getattr(self._local, "connector", "")
        self._local.connector = connector
        try:
            yield
        finally:
            self._local.connector = before

    def emit(self, event: str, fields: dict[str, Any], user_id: int | None) -> None:
        """Raise ``event`` with ``data[FIELDS]``; ``user_id=None`` means automation (no tokens)."""
        portal = self.portal
        event = event.upper()
        if getattr(self._local, "automation", False):
            user_id = None
        out: list[tuple[tuple[Any, ...], Outbound]] = []
        data = {"FIELDS": {k: str(v) for k, v in fields.items()}}
        for binding in list(self.bindings.values()):
            if binding.event != event or not binding.app.installed:
                continue
            if binding.offline:
                if not binding.connector or binding.connector != getattr(
                    self._local, "connector", ""
                ):
                    self.offline.record(binding, event, data)
                continue
            actor = binding.auth_type or user_id
            payload = {
                "event": event,
                "event_handler_id": str(binding.id),
                "data": data,
                "auth": self._app_auth(binding.app, actor),
            }
            key = (binding.handler, binding.id, event, json.dumps(data, sort_keys=True), actor)
            out.append((key, Outbound(binding.handler, payload, 0.0)))
        for hook in portal.auth.outgoing.values():
            if event not in hook.events:
                continue
            payload = {
                "event": event,
                "event_handler_id": str(hook.id),
                "data": data,
                "auth": {
                    "domain": portal.domain,
                    "client_endpoint": portal.client_endpoint,
                    "server_endpoint": portal.server_endpoint,
                    "member_id": portal.member_id,
                    "application_token": hook.application_token,
                },
            }
            key = (hook.handler, -hook.id, event, json.dumps(data, sort_keys=True), None)
            out.append((key, Outbound(hook.handler, payload, 0.0)))
        if getattr(self._local, "depth", 0) > 0:
            for key, item in out:
                self._local.buffer.setdefault(key, item)
        else:
            self._enqueue([item for _, item in out])

    def signal(self, binding: Binding) -> None:
        """``ONOFFLINEEVENT`` to ``binding``'s handler: empty ``data`` (§6.7), the binding
        owner's tokens with the refresh token (§6.5)."""
        access, refresh = self.portal.auth.issue(
            binding.app, binding.owner_id, self.portal.access_token_ttl
        )
        auth = self._app_auth(binding.app, None)
        auth = {
            "access_token": access.token,
            "expires": str(int(access.expires_at)),
            "expires_in": str(int(self.portal.access_token_ttl)),
            "scope": binding.app.scope_text,
            **auth,
            "user_id": str(binding.owner_id),
            "refresh_token": refresh.token,
        }
        payload = {
            "event": binding.event,
            "event_handler_id": str(binding.id),
            "data": [],
            "auth": auth,
        }
        item = Outbound(binding.handler, payload, 0.0)
        if getattr(self._local, "depth", 0) > 0:
            self._local.buffer.setdefault((binding.handler, binding.id, binding.event), item)
        else:
            self._enqueue([item])

    def send_now(self, binding: Binding, data: dict[str, Any]) -> None:
        """Queue an app-lifecycle event (``ONAPPUNINSTALL``): auth without tokens (§1.2.6)."""
        portal = self.portal
        payload = {
            "event": binding.event,
            "event_handler_id": str(binding.id),
            "data": data,
            "auth": {
                "domain": portal.domain,
                "server_endpoint": portal.server_endpoint,
                "client_endpoint": portal.client_endpoint,
                "member_id": portal.member_id,
                "application_token": binding.app.application_token,
            },
        }
        self._enqueue([Outbound(binding.handler, payload, 0.0)])

    def _app_auth(self, app: App, user_id: int | None) -> dict[str, Any]:
        portal = self.portal
        auth: dict[str, Any] = {}
        if user_id is not None:
            tokens = getattr(self._local, "tokens", None)
            access = tokens.get((app.client_id, user_id)) if tokens is not None else None
            if access is None:
                access, _refresh = portal.auth.issue(app, user_id, portal.access_token_ttl)
                if tokens is not None:
                    tokens[(app.client_id, user_id)] = access
            auth.update(
                {
                    "access_token": access.token,
                    "expires": str(int(access.expires_at)),
                    "expires_in": str(int(portal.access_token_ttl)),
                    "scope": app.scope_text,
                }
            )
        auth.update(
            {
                "domain": portal.domain,
                "server_endpoint": portal.server_endpoint,
                "status": app.status,
                "client_endpoint": portal.client_endpoint,
                "member_id": portal.member_id,
            }
        )
        if user_id is not None:
            auth["user_id"] = str(user_id)
        auth["application_token"] = app.application_token
        return auth

    # -- sending ----------------------------------------------------------------------------
    def _enqueue(self, items: list[Outbound]) -> None:
        if not items:
            return
        delay = self.portal.faults.delay_events
        ready_at = time.monotonic() + delay
        with self._cond:
            for item in items:
                item.not_before = ready_at
                self._pending.append(item)
            self._ensure_thread()
            self._cond.notify_all()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="b24emu-events", daemon=True)
            self._thread.start()

    def _take_ready(self) -> list[Outbound] | None:
        with self._cond:
            while True:
                if self._stopping and not self._pending:
                    return None
                now = time.monotonic()
                ready = [p for p in self._pending if p.not_before <= now]
                if ready:
                    break
                waits = [p.not_before - now for p in self._pending]
                self._cond.wait(timeout=min(waits) if waits else None)
            if self.portal.faults.reorder_events:
                gather_end = time.monotonic() + REORDER_GATHER_SECONDS
                while (left := gather_end - time.monotonic()) > 0:
                    self._cond.wait(timeout=left)
                now = time.monotonic()
                ready = [p for p in self._pending if p.not_before <= now]
            ready_ids = {id(p) for p in ready}
            self._pending = [p for p in self._pending if id(p) not in ready_ids]
            self._in_flight += len(ready)
            return ready

    def _run(self) -> None:
        with httpx.Client(timeout=10.0, trust_env=False) as client:
            while True:
                batch = self._take_ready()
                if batch is None:
                    return
                portal = self.portal
                if portal.faults.reorder_events:
                    portal.random_shuffle(batch)
                for item in batch:
                    try:
                        self._deliver(client, item)
                    finally:
                        with self._cond:
                            self._in_flight -= 1
                            self._cond.notify_all()

    def _deliver(self, client: httpx.Client, item: Outbound) -> None:
        portal = self.portal
        faults = portal.faults
        if portal.random_below(faults.drop_events):
            portal.stats.bump("events_dropped")
            return
        copies = 2 if portal.random_below(faults.duplicate_events) else 1
        if copies == 2:
            portal.stats.bump("events_duplicated")
        for _ in range(copies):
            payload = dict(item.payload)
            payload["ts"] = str(int(time.time()))
            ordered = {k: payload[k] for k in ("event", "event_handler_id", "data", "ts", "auth")}
            body = urlencode(flatten_form(ordered))
            try:
                response = client.post(
                    item.url,
                    content=body.encode("utf-8"),
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
                ok = response.status_code < 400
            except httpx.HTTPError as exc:
                log.info("event %s to %s lost: %s", payload["event"], item.url, exc)
                ok = False
            portal.stats.bump("events_sent" if ok else "events_failed")
            with self._cond:
                self.delivered.append(ordered)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(timeout=min(left, 0.05))
        return True

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._pending.clear()
            self._cond.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None
