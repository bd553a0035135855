"""The notification outbox: rows written in the caller's transaction, delivered by the notify job
at least once (docs/notifications.md).

A message's life::

    pending ──claim──▶ sending ──provider took it──▶ sent
       ▲                  │ ├──retryable error──▶ pending (later: backoff doubles)
       │                  │ └──final error, or attempts used up──▶ failed
       └──quiet hours─────┘   skipped: channel not configured, or the customer opted out

An operator may send a ``failed`` message again (:func:`retry_message`: ``pending`` now, its
attempts counted afresh) or give up on a ``failed`` or ``pending`` one (:func:`cancel_message`:
``cancelled``, never sent); the admin's outbox view does both.

Each attempt is recorded (``sending``, with a lease) *before* the provider is called, and the
outcome after; the call itself runs outside any transaction. A ``sending`` row whose lease ran
out belongs to a worker that died with the outcome unknown: an idempotent channel (Bitrix24 chat,
keyed by ``TAG``) simply sends again; any other gets exactly one more try, so a crash costs at
most one duplicate, and a second unknown outcome ends in ``failed`` rather than risk another.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.cabinet.sms_code import is_login_code, with_code
from kopilka.config import Settings
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import notification_optouts, notifications
from kopilka.notify.channels import Channel, DeliveryError, Outgoing
from kopilka.notify.deferred import defer_notify
from kopilka.notify.quiet import quiet_until

log = logging.getLogger("kopilka.notify")

CUSTOMER_CHANNELS = ("sms", "email")


async def queue(
    conn: AsyncConnection,
    portal_id: int,
    *,
    key: str,
    channel: str,
    recipient: str,
    body: str,
    subject: str = "",
    params: Mapping[str, Any] | None = None,
    customer_id: int | None = None,
    event_id: int | None = None,
    not_before: datetime | None = None,
    skipped: str | None = None,
) -> bool:
    """Add a message unless one with ``key`` exists; True if it was added. ``skipped`` records
    it as not sent, with that reason (an opted-out customer, a channel switched off)."""
    values: dict[str, Any] = {
        "portal_id": portal_id,
        "key": key,
        "channel": channel,
        "recipient": recipient,
        "subject": subject,
        "body": body,
        "params": dict(params or {}),
        "customer_id": customer_id,
        "event_id": event_id,
    }
    if not_before is not None:
        values["not_before"] = not_before
    if skipped is not None:
        values |= {"status": "skipped", "last_error": skipped}
    result = await conn.execute(
        insert(notifications)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["portal_id", "key"])
        .returning(notifications.c.id)
    )
    return result.first() is not None


async def opt_out(conn: AsyncConnection, portal_id: int, customer_id: int, source: str) -> None:
    """The customer wants no messages (e.g. the cabinet's switch)."""
    await conn.execute(
        insert(notification_optouts)
        .values(portal_id=portal_id, customer_id=customer_id, source=source)
        .on_conflict_do_nothing()
    )


async def opt_in(conn: AsyncConnection, portal_id: int, customer_id: int) -> None:
    await conn.execute(
        notification_optouts.delete().where(
            notification_optouts.c.portal_id == portal_id,
            notification_optouts.c.customer_id == customer_id,
        )
    )


async def opted_out(conn: AsyncConnection, portal_id: int, customer_id: int) -> bool:
    return bool(
        await conn.scalar(
            select(
                exists().where(
                    notification_optouts.c.portal_id == portal_id,
                    notification_optouts.c.customer_id == customer_id,
                )
            )
        )
    )


async def retry_message(
    conn: AsyncConnection, portal_id: int, message_id: int, now: datetime
) -> bool:
    """Send a failed message again, now, as a new message would be (its attempts and unknown
    outcomes counted afresh; the last error stays until the next attempt's outcome), and wake
    the notify job. False if the portal has no such failed message."""
    n = notifications.c
    done = await conn.execute(
        update(notifications)
        .where(n.id == message_id, n.portal_id == portal_id, n.status == "failed")
        .values(status="pending", not_before=now, attempts=0, unknown=0, lease_until=None)
        .returning(n.id)
    )
    if done.first() is None:
        return False
    await defer_notify(conn, portal_id)
    return True


async def cancel_message(conn: AsyncConnection, portal_id: int, message_id: int) -> bool:
    """Give up on a failed or pending message: it is never sent. False if the portal has no such
    message (a message being sent, or sent, cannot be cancelled)."""
    n = notifications.c
    done = await conn.execute(
        update(notifications)
        .where(
            n.id == message_id,
            n.portal_id == portal_id,
            n.status.in_(("failed", "pending")),
        )
        .values(status="cancelled", lease_until=None)
        .returning(n.id)
    )
    return done.first() is not None


@dataclass
class Delivery:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    postponed: int = 0
    #: when the next pending message (or an abandoned attempt's lease) falls due
    next_due: datetime | None = None
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Claimed:
    """A message claimed for one attempt (number ``attempts``)."""

    id: int
    key: str
    channel: str
    recipient: str
    subject: str
    body: str
    params: dict[str, Any]
    attempts: int

    @classmethod
    def of(cls, row: Any, attempts: int) -> Claimed:
        return cls(
            row.id, row.key, row.channel, row.recipient, row.subject, row.body,
            dict(row.params), attempts,
        )  # fmt: skip


@dataclass(frozen=True)
class Policy:
    tz: ZoneInfo
    quiet: tuple[int, int] | None
    max_attempts: int
    backoff: float
    lease: timedelta

    @classmethod
    def of(cls, settings: Settings, tz: ZoneInfo, quiet: tuple[int, int] | None) -> Policy:
        return cls(
            tz=tz,
            quiet=quiet,
            max_attempts=settings.notify_max_attempts,
            backoff=settings.notify_backoff,
            # longer than any single call may take (the Bitrix24 client retries within a call)
            lease=timedelta(seconds=3 * max(settings.notify_timeout, settings.b24_timeout) + 5),
        )

    def retry_at(self, now: datetime, attempts: int) -> datetime:
        return now + timedelta(seconds=self.backoff * 2 ** max(attempts - 1, 0))


async def _claim(
    conn: AsyncConnection,
    portal_id: int,
    now: datetime,
    channels: Mapping[str, Channel],
    policy: Policy,
    report: Delivery,
    limit: int,
) -> list[Claimed]:
    n = notifications.c
    rows = (
        await conn.execute(
            select(notifications)
            .where(
                n.portal_id == portal_id,
                ((n.status == "pending") & (n.not_before <= now))
                | ((n.status == "sending") & (n.lease_until < now)),
            )
            .order_by(n.not_before, n.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    claimed: list[Claimed] = []
    for r in rows:
        values: dict[str, Any] = {}
        channel = channels.get(r.channel)
        unknown = r.unknown + (1 if r.status == "sending" else 0)
        if r.status == "sending":
            log.warning("message %s (%s): its last attempt's outcome is unknown", r.key, r.channel)
        if channel is None:
            log.info("message %s skipped: channel %s is not configured", r.key, r.channel)
            values = {"status": "skipped", "last_error": f"channel {r.channel} not configured"}
            report.skipped += 1
        elif (
            r.channel in CUSTOMER_CHANNELS
            and r.customer_id is not None
            and await opted_out(conn, portal_id, r.customer_id)
        ):
            values = {"status": "skipped", "last_error": "the customer opted out"}
            report.skipped += 1
        elif not channel.idempotent and unknown > 1:
            values = {
                "status": "failed",
                "last_error": "outcome unknown twice; not sent again to avoid duplicates",
            }
            report.failed += 1
        elif (
            r.channel == "sms"
            and not r.params.get("urgent")  # a login code cannot wait for the morning
            and (later := quiet_until(now, policy.tz, policy.quiet))
        ):
            values = {"status": "pending", "not_before": later}
            report.postponed += 1
        else:
            values = {"status": "sending", "attempts": r.attempts + 1}
            values["lease_until"] = now + policy.lease
            claimed.append(Claimed.of(r, r.attempts + 1))
        if values.get("status") != "sending":
            values["lease_until"] = None
        await conn.execute(
            update(notifications).where(n.id == r.id).values(unknown=unknown, **values)
        )
    return claimed


async def _record(
    conn: AsyncConnection,
    row: Claimed,
    outcome: str | DeliveryError | None,
    now: datetime,
    policy: Policy,
    report: Delivery,
) -> None:
    n = notifications.c
    if isinstance(outcome, DeliveryError):
        final = not outcome.retryable or row.attempts >= policy.max_attempts
        values: dict[str, Any] = {
            "status": "failed" if final else "pending",
            "last_error": str(outcome)[:500],
            "lease_until": None,
        }
        if final:
            report.failed += 1
            log.error("message %s (%s) failed: %s", row.key, row.channel, outcome)
        else:
            values["not_before"] = policy.retry_at(now, row.attempts)
            report.retried += 1
            log.warning(
                "message %s (%s), attempt %d: %s", row.key, row.channel, row.attempts, outcome
            )
        report.errors.append(str(outcome))
    else:
        values = {"status": "sent", "sent_at": now, "provider_id": outcome, "lease_until": None}
        report.sent += 1
    # only the attempt we made: a row another worker re-claimed meanwhile is theirs
    await conn.execute(
        update(notifications)
        .where(n.id == row.id, n.status == "sending", n.attempts == row.attempts)
        .values(**values)
    )


async def next_due(conn: AsyncConnection, portal_id: int) -> datetime | None:
    n = notifications.c
    due: datetime | None = await conn.scalar(
        select(
            func.min(
                func.coalesce(n.lease_until, n.not_before),
            )
        ).where(n.portal_id == portal_id, n.status.in_(("pending", "sending")))
    )
    return due


async def deliver_due(
    engine: AsyncEngine,
    portal_id: int,
    channels: Mapping[str, Channel],
    policy: Policy,
    *,
    now: Callable[[], datetime],
    batch: int = 20,
) -> Delivery:
    """Deliver the portal's due messages, ``batch`` claimed at a time, until none is due."""
    report = Delivery()
    while True:
        moment = now()

        async def claim(conn: AsyncConnection, moment: datetime = moment) -> list[Claimed]:
            return await _claim(conn, portal_id, moment, channels, policy, report, batch)

        claimed = await run_in_transaction(engine, claim)
        if not claimed:
            break
        for row in claimed:
            outcome: str | DeliveryError | None
            message = Outgoing(
                row.key, row.channel, row.recipient, row.body, row.subject, row.params
            )
            try:
                if is_login_code(row.params):
                    message = await with_code(engine, message, now())
                outcome = await channels[row.channel].deliver(message)
            except DeliveryError as exc:
                outcome = exc
            except Exception as exc:  # a bug or an unexpected answer: retried, then failed
                log.exception("message %s (%s): unexpected error", row.key, row.channel)
                outcome = DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True)

            async def record(
                conn: AsyncConnection, row: Claimed = row, outcome: Any = outcome
            ) -> None:
                await _record(conn, row, outcome, now(), policy, report)

            await run_in_transaction(engine, record)
    async with engine.connect() as conn:
        report.next_due = await next_due(conn, portal_id)
    return report
