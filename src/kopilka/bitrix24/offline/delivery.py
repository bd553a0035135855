"""Switching a portal's event delivery online or offline (the CLI's ``kopilka portal events``
and the app's settings page call :func:`set_delivery`).

Offline needs an application connection: a webhook cannot read the queue (``event.offline.*``
and ``event.bind`` answer ``WRONG_AUTH_TYPE`` to it), and an outgoing webhook has no offline
mode. It also needs the portal's plan to allow reading the queue without emptying it
(``feature.get rest_offline_extended``): without it a crash between reading and handling would
lose events, which is what offline delivery is for."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.connections import Connection
from kopilka.bitrix24.offline.bindings import apply_bindings
from kopilka.bitrix24.offline.deferred import defer_offline
from kopilka.bitrix24.offline.queries import MODES, delivery_of, store_mode
from kopilka.bitrix24.provision import events_for
from kopilka.domain.errors import InvalidCommand
from kopilka.program.model import Program


class OfflineRefused(InvalidCommand):
    code = "offline_refused"


@dataclass
class DeliveryChange:
    portal_id: int
    mode: str
    previous: str
    calls: list[str] = field(default_factory=list)


async def extended_mode(client: Bitrix24Client) -> bool:
    """Whether the portal lets its queue be read without being emptied (``clear=0``). An
    on-premise portal without a feature check answers ``<lang>_selfhosted``: it has it."""
    answer = await client.call("feature.get", {"CODE": "rest_offline_extended"})
    value = str((answer or {}).get("value", "")) if isinstance(answer, dict) else ""
    return value == "Y" or value.endswith("_selfhosted")


async def set_delivery(
    conn: AsyncConnection,
    client: Bitrix24Client,
    connection: Connection,
    program: Program,
    mode: str,
    handler_url: str,
    *,
    now: datetime,
    signal_seconds: int = 5,
) -> DeliveryChange:
    """Bind the events the program needs for ``mode`` (``online``: to ``handler_url``;
    ``offline``: to the portal's queue), unbind the other delivery, and store the mode, in the
    caller's transaction. Back online, the queue is read once more (what it still holds is not
    lost). Refused, changing nothing, for a webhook connection or a plan without the extended
    offline mode."""
    if mode not in MODES:
        raise InvalidCommand(f"event delivery is 'online' or 'offline', not {mode!r}")
    if connection.status != "active":
        raise InvalidCommand(f"portal {connection.portal_id} is not connected")
    if mode == "offline":
        if connection.mode != "app":
            raise OfflineRefused(
                f"portal {connection.portal_id} is connected by webhook: offline events need "
                "Kopilka installed as an application (a webhook cannot read the portal's queue)"
            )
        if not await extended_mode(client):
            raise OfflineRefused(
                f"portal {connection.portal_id}'s plan does not allow reading offline events "
                "without removing them (feature rest_offline_extended): Kopilka would lose "
                "events on a crash, so it stays online"
            )
    previous = (await delivery_of(conn, connection.portal_id)).mode
    change = DeliveryChange(connection.portal_id, mode, previous)
    if connection.mode == "app":
        change.calls = await apply_bindings(
            client,
            events_for(program),
            handler_url,
            offline=mode == "offline",
            signal_seconds=signal_seconds,
        )
    await store_mode(conn, connection.portal_id, mode, now)
    await defer_offline(conn, connection.portal_id)  # offline: now; online: what is left
    return change
