"""``Idempotency-Key`` for every write of the public API.

The first successful answer to a key is stored with the hash of its request (endpoint + body)
in the same transaction as the write itself, under a transaction-scoped advisory lock on the
key: a retry, even a concurrent one, gets the very same answer replayed (header
``Idempotent-Replayed: true``); the same key with a different request is refused with 422
``idempotency_key_reused``. A failed request stores nothing, so it may be retried with its key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.api.errors import ApiError, FieldProblem
from kopilka.db.tables import api_idempotency

HEADER = "Idempotency-Key"
MAX_KEY = 200


@dataclass(frozen=True, slots=True)
class Stored:
    status: int
    body: dict[str, Any]
    replayed: bool


def request_hash(endpoint: str, body: Any) -> str:
    canonical = json.dumps([endpoint, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise ApiError(
            400,
            "idempotency_key_required",
            f"every write needs an {HEADER} header (any unique text up to {MAX_KEY} characters)",
            [FieldProblem(field=HEADER, code="missing", message="the header is required")],
        )
    key = key.strip()
    if len(key) > MAX_KEY:
        raise ApiError(
            400,
            "idempotency_key_invalid",
            f"the {HEADER} is longer than {MAX_KEY} characters",
            [FieldProblem(field=HEADER, code="too_long", message="too long")],
        )
    return key


async def once(
    conn: AsyncConnection,
    portal_id: int,
    key: str,
    endpoint: str,
    body: Any,
    work: Callable[[], Awaitable[tuple[int, dict[str, Any]]]],
) -> Stored:
    """Run ``work`` unless ``key`` already answered; store its answer. Call inside the write's
    own transaction."""
    digest = request_hash(endpoint, body)
    await conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
        {"k": f"kopilka-idem:{portal_id}:{key}"},
    )
    row = (
        await conn.execute(
            select(
                api_idempotency.c.request_hash, api_idempotency.c.status, api_idempotency.c.response
            ).where(api_idempotency.c.portal_id == portal_id, api_idempotency.c.key == key)
        )
    ).first()
    if row is not None:
        if row.request_hash != digest:
            raise ApiError(
                422,
                "idempotency_key_reused",
                f"this {HEADER} was already used for a different request",
                [FieldProblem(field=HEADER, code="reused", message="key used with another body")],
            )
        return Stored(int(row.status), dict(row.response), replayed=True)
    status, answer = await work()
    await conn.execute(
        insert(api_idempotency).values(
            portal_id=portal_id,
            key=key,
            endpoint=endpoint,
            request_hash=digest,
            status=status,
            response=answer,
        )
    )
    return Stored(status, answer, replayed=False)
