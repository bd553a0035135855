"""The APNs outbox (``wallet_apple_pushes``): the ledger's trigger queues at most one pending push
per device; this sends those due — a pending push waits ``wallet_apple_push_coalesce_seconds``
from the first change, so that the changes of that minute are one push — outside any ledger
transaction, at least once: a push is leased (``sending``) before it goes out, a lease that
lapses (a crashed worker) is taken again, a retryable failure waits with backoff, and APNs'
410 forgets the device and its registrations. Times are the database's, like the trigger's."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.db.engine import run_in_transaction
from kopilka.wallet.apple import queries
from kopilka.wallet.apple.apns import Answer, Apns

log = logging.getLogger("kopilka.wallet")

LEASE_SECONDS = 120
MAX_ATTEMPTS = 10
BATCH = 100

_CLAIM = text(
    """
    UPDATE wallet_apple_pushes SET status = 'sending',
           not_before = now() + make_interval(secs => :lease), attempts = attempts + 1
     WHERE id IN (
        SELECT id FROM wallet_apple_pushes
         WHERE (status = 'pending' AND not_before <= now()
                AND created_at <= now() - make_interval(secs => :coalesce))
            OR (status = 'sending' AND not_before <= now())
         ORDER BY id LIMIT :batch FOR UPDATE SKIP LOCKED)
    RETURNING id, push_token, attempts
    """
)


@dataclass
class Round:
    sent: int = 0
    retried: int = 0
    dropped: int = 0
    failed: int = 0


async def send_due(engine: AsyncEngine, apns: Apns, topic: str, coalesce: int) -> Round:
    """Send every push due now; returns what became of them."""
    report = Round()
    while True:

        async def claim(conn: AsyncConnection) -> list[Any]:
            params = {"lease": LEASE_SECONDS, "coalesce": coalesce, "batch": BATCH}
            return list((await conn.execute(_CLAIM, params)).all())

        due = await run_in_transaction(engine, claim)
        if not due:
            return report
        for push in due:
            answer = await apns.push(push.push_token, topic)

            async def record(conn: AsyncConnection, p: Any = push, a: Answer = answer) -> str:
                return await _record(conn, p, a)

            outcome = await run_in_transaction(engine, record)
            setattr(report, outcome, getattr(report, outcome) + 1)


async def _record(conn: AsyncConnection, push: Any, answer: Answer) -> str:
    if answer.status == 200:
        await conn.execute(
            text("UPDATE wallet_apple_pushes SET status = 'sent', sent_at = now() WHERE id = :i"),
            {"i": push.id},
        )
        return "sent"
    error = f"{answer.status} {answer.reason or ''}".strip()
    if answer.gone:
        forgotten = await queries.forget_push_token(conn, push.push_token)
        log.info("APNs: push token gone (%s), %d device(s) forgotten", error, forgotten)
        await _close(conn, push.id, "dropped", error)
        return "dropped"
    if answer.retry and push.attempts < MAX_ATTEMPTS:
        wait = min(30 * 2 ** (push.attempts - 1), 3600)
        await conn.execute(
            text(
                "UPDATE wallet_apple_pushes SET status = 'sending', last_error = :e, "
                "not_before = now() + make_interval(secs => :w) WHERE id = :i"
            ),
            {"i": push.id, "e": error, "w": wait},
        )
        log.warning("APNs: push %s failed (%s), again in %d s", push.id, error, wait)
        return "retried"
    log.warning("APNs: push %s given up (%s)", push.id, error)
    await _close(conn, push.id, "failed", error)
    return "failed"


async def _close(conn: AsyncConnection, push_id: int, status: str, error: str) -> None:
    await conn.execute(
        text("UPDATE wallet_apple_pushes SET status = :s, last_error = :e WHERE id = :i"),
        {"i": push_id, "s": status, "e": error[:500]},
    )
