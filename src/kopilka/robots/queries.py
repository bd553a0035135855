"""``b24_robot_calls``: a call recorded once per event_token, its answer decided once, its end.

The event_token is stored encrypted (it lets whoever holds it answer the robot) and found by
its SHA-256, unique per portal: the same call posted again is the same row.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.db.tables import b24_robot_calls
from kopilka.process.queue import defer_once
from kopilka.robots.schemas import Answer

TASK = "robots.call"


def token_hash(event_token: str) -> bytes:
    return hashlib.sha256(event_token.encode()).digest()


@dataclass(frozen=True)
class Incoming:
    """A handler POST as validated (reference §11.2)."""

    event_token: str
    code: str
    document: str  # DEAL_5, CONTACT_7
    user_id: int | None
    properties: dict[str, str]
    subscribed: bool


@dataclass(frozen=True)
class StoredCall:
    id: int
    portal_id: int
    event_token: str
    code: str
    document: str
    user_id: int | None
    properties: dict[str, str]
    subscribed: bool
    state: str
    answer: Answer | None

    @property
    def key(self) -> str:
        """The idempotency key of what the call posts: the same call, the same entries."""
        return f"b24robot:{token_hash(self.event_token).hex()}"


def call_lock(call_id: int) -> str:
    return f"{TASK}:{call_id}"


async def defer_call(conn: AsyncConnection, call_id: int) -> bool:
    return await defer_once(conn, TASK, call_lock(call_id), call_id=call_id)


async def record_call(conn: AsyncConnection, portal_id: int, call: Incoming) -> tuple[int, bool]:
    """(the call's id, whether it is new). A new call's job is deferred here; a call posted
    again counts a delivery and, still pending, gets its job again (one waits at most)."""
    digest = token_hash(call.event_token)
    call_id = await conn.scalar(
        insert(b24_robot_calls)
        .values(
            portal_id=portal_id,
            token_hash=digest,
            event_token=call.event_token,
            code=call.code,
            document=call.document,
            user_id=call.user_id,
            properties=call.properties,
            subscribed=call.subscribed,
        )
        .on_conflict_do_nothing(index_elements=["portal_id", "token_hash"])
        .returning(b24_robot_calls.c.id)
    )
    if call_id is not None:
        await defer_call(conn, call_id)
        return int(call_id), True
    row = (
        await conn.execute(
            update(b24_robot_calls)
            .where(b24_robot_calls.c.portal_id == portal_id, b24_robot_calls.c.token_hash == digest)
            .values(deliveries=b24_robot_calls.c.deliveries + 1)
            .returning(b24_robot_calls.c.id, b24_robot_calls.c.state)
        )
    ).one()
    if row.state == "pending":
        await defer_call(conn, int(row.id))
    return int(row.id), False


def _stored(row: Any) -> StoredCall:
    return StoredCall(
        id=int(row.id),
        portal_id=int(row.portal_id),
        event_token=row.event_token,
        code=row.code,
        document=row.document,
        user_id=row.user_id,
        properties=dict(row.properties),
        subscribed=bool(row.subscribed),
        state=row.state,
        answer=Answer.from_json(row.result) if row.result is not None else None,
    )


async def load_call(conn: AsyncConnection, call_id: int) -> StoredCall | None:
    row = (
        await conn.execute(select(b24_robot_calls).where(b24_robot_calls.c.id == call_id))
    ).first()
    return _stored(row) if row is not None else None


async def decide(conn: AsyncConnection, call_id: int, answer: Answer) -> Answer:
    """Store the call's answer unless one is stored already; the one that stands."""
    await conn.execute(
        update(b24_robot_calls)
        .where(b24_robot_calls.c.id == call_id, b24_robot_calls.c.result.is_(None))
        .values(
            result=answer.as_json(),
            error=answer.error,
            attempts=b24_robot_calls.c.attempts + 1,
        )
    )
    stored = await conn.scalar(
        select(b24_robot_calls.c.result).where(b24_robot_calls.c.id == call_id)
    )
    assert stored is not None, "the answer was stored above, or before"
    return Answer.from_json(stored)


async def finish(conn: AsyncConnection, call_id: int, state: str, now: datetime) -> None:
    await conn.execute(
        update(b24_robot_calls)
        .where(b24_robot_calls.c.id == call_id, b24_robot_calls.c.state == "pending")
        .values(state=state, finished_at=now)
    )


async def redefer_pending(conn: AsyncConnection, since: datetime, limit: int = 500) -> int:
    """Defer again the job of every call received since ``since`` and still pending (its job
    ran out of retries while the portal was away, or was lost); how many were deferred. A call
    whose job is waiting is left alone (the queueing lock)."""
    ids = await conn.scalars(
        select(b24_robot_calls.c.id)
        .where(b24_robot_calls.c.state == "pending", b24_robot_calls.c.received_at >= since)
        .order_by(b24_robot_calls.c.id)
        .limit(limit)
    )
    return sum([await defer_call(conn, int(call_id)) for call_id in ids.all()])
