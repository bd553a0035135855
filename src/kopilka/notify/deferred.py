"""What notifications, cards and registrations ask the queue to do later: the names and locks of
their tasks and the deferrals (``kopilka.process.queue``); the tasks are in
:mod:`kopilka.notify.tasks`."""

from __future__ import annotations

from typing import Any

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.process.queue import defer_once

NOTIFY_TASK = "notify.portal"
CARDS_TASK = "cards.contacts"
REGISTRATION_TASK = "registration.process"
#: below the default (0) of every job deferred to run now
WAKE_UP_PRIORITY = -1


def _lock(task: str, portal_id: int) -> str:
    return f"{task}:{portal_id}"


async def _defer_in(conn: AsyncConnection, task: str, lock: str, **kwargs: Any) -> bool:
    """Defer ``task`` in the caller's transaction; False if one is already waiting."""
    return await defer_once(conn, task, lock, **kwargs)


async def defer_notify(conn: AsyncConnection, portal_id: int) -> bool:
    return await _defer_in(conn, NOTIFY_TASK, _lock(NOTIFY_TASK, portal_id), portal_id=portal_id)


async def defer_cards(conn: AsyncConnection, portal_id: int) -> bool:
    return await _defer_in(conn, CARDS_TASK, _lock(CARDS_TASK, portal_id), portal_id=portal_id)


async def defer_registration(conn: AsyncConnection, registration_id: int) -> bool:
    lock = f"{REGISTRATION_TASK}:{registration_id}"
    return await _defer_in(conn, REGISTRATION_TASK, lock, registration_id=registration_id)


async def again(app: procrastinate.App, task: str, portal_id: int, delay: float = 0.0) -> None:
    """Defer ``task`` for the portal now, or in ``delay`` seconds. A job waiting to run now and a
    wake-up scheduled for later have queueing locks of their own, so that a wake-up (a backoff,
    a delayed to-do) never holds back news that should go out at once. Both share a lock (one
    run per portal at a time), and procrastinate runs a lock's jobs in order of priority, then
    id: a wake-up has the lower priority, or a job deferred after it would wait until it is due
    (an accrual's SMS held for the settle window would hold back every other message)."""
    lock = _lock(task, portal_id)
    later = delay > 0
    try:
        await app.configure_task(
            task,
            queueing_lock=f"{lock}:later" if later else lock,
            lock=lock,
            schedule_in={"seconds": int(delay) + 1} if later else None,
            priority=WAKE_UP_PRIORITY if later else 0,
        ).defer_async(portal_id=portal_id)
    except AlreadyEnqueued:
        pass  # one is waiting already (the minute tick repairs a wake-up that comes too late)


async def notify_soon(app: procrastinate.App, portal_id: int) -> None:
    """Defer the portal's notify job now (from a job, outside a transaction)."""
    await again(app, NOTIFY_TASK, portal_id)
