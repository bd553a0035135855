"""Which ``event.bind`` / ``event.unbind`` calls give a portal the delivery it should have,
from what ``event.get`` says it has (§6.2–6.4, §6.7): :func:`binding_calls` works them out
(pure), :func:`apply_bindings` makes them.

Online: each event Kopilka needs bound to its handler. Offline: each bound with
``event_type=offline`` (no handler) instead; ``ONOFFLINEEVENT`` bound online, so that a portal
that *can* reach Kopilka says when records wait (within ``minTimeout``). ``ONAPPUNINSTALL`` is
online in both (a removed application cannot read a queue)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.errors import B24Error
from kopilka.bitrix24.offline.deferred import SIGNAL_EVENT

log = logging.getLogger("kopilka.bitrix24")

LIFECYCLE = ("ONAPPUNINSTALL",)
Calls = dict[str, tuple[str, Mapping[str, Any]]]


def _bound(rows: Iterable[Mapping[str, Any]], handler: str) -> tuple[set[str], set[str]]:
    """(events bound online to ``handler``, events bound offline)."""
    online, offline = set(), set()
    for row in rows:
        event = str(row.get("event", "")).upper()
        if str(row.get("offline", "0")) in ("1", "true", "True"):
            offline.add(event)
        elif str(row.get("handler", "")) == handler:
            online.add(event)
    return online, offline


def binding_calls(
    bound: Iterable[Mapping[str, Any]] | None,
    events: Iterable[str],
    handler: str,
    *,
    offline: bool,
    signal_seconds: int = 5,
    unbind: bool = True,
) -> tuple[Calls, Calls]:
    """(binds, unbinds) as batch commands keyed by a readable name. ``unbind=False`` leaves
    extra bindings alone (provisioning only adds)."""
    online_now, offline_now = _bound(bound or [], handler)
    wanted = [e.upper() for e in events]
    binds: Calls = {}
    unbinds: Calls = {}
    for event in wanted:
        if offline:
            if event not in offline_now:
                binds[f"offline_{event}"] = (
                    "event.bind",
                    {"event": event, "event_type": "offline"},
                )
            if event in online_now:
                unbinds[f"online_{event}"] = ("event.unbind", {"event": event, "handler": handler})
        else:
            if event not in online_now:
                binds[f"online_{event}"] = ("event.bind", {"event": event, "handler": handler})
            if event in offline_now:
                unbinds[f"offline_{event}"] = (
                    "event.unbind",
                    {"event": event, "event_type": "offline"},
                )
    for event in LIFECYCLE:
        if event not in online_now:
            binds[f"online_{event}"] = ("event.bind", {"event": event, "handler": handler})
    if offline and SIGNAL_EVENT not in online_now:
        binds[f"online_{SIGNAL_EVENT}"] = (
            "event.bind",
            {"event": SIGNAL_EVENT, "handler": handler, "options": {"minTimeout": signal_seconds}},
        )
    if not offline and SIGNAL_EVENT in online_now:
        unbinds[f"online_{SIGNAL_EVENT}"] = (
            "event.unbind",
            {"event": SIGNAL_EVENT, "handler": handler},
        )
    if not unbind:
        unbinds = {}
    return binds, unbinds


async def apply_bindings(
    client: Bitrix24Client,
    events: Iterable[str],
    handler: str,
    *,
    offline: bool,
    signal_seconds: int = 5,
    unbind: bool = True,
) -> list[str]:
    """Bind what the delivery needs (new bindings first, so that no event falls between two
    deliveries: one delivered twice is only hinted twice), then unbind what it no longer uses.
    ``ONOFFLINEEVENT`` is a convenience: a portal that refuses it (an unreachable handler) is
    read on the poll alone. Returns the names of the calls made."""
    bound = await client.call("event.get")
    binds, unbinds = binding_calls(
        bound if isinstance(bound, list) else [],
        events,
        handler,
        offline=offline,
        signal_seconds=signal_seconds,
        unbind=unbind,
    )
    signal = binds.pop(f"online_{SIGNAL_EVENT}", None)
    if binds:
        await client.batch_many(binds, write=True)
    made = sorted(binds)
    if signal is not None:
        try:
            await client.call(*signal, write=True)
            made.append(f"online_{SIGNAL_EVENT}")
        except B24Error as exc:
            log.warning(
                "the portal refused ONOFFLINEEVENT (%s): its queue is read on the poll", exc
            )
    if unbinds:
        await client.batch_many(unbinds, write=True)
        made += sorted(unbinds)
    return made
