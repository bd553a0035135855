"""The notify worker's side of a login SMS: the code is made when the SMS goes out.

The cabinet queues the SMS with ``{code}`` in its text and the code row's id in its params; the
row holds an unusable hash until then, so no column ever holds a usable code in clear.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.cabinet import sessions
from kopilka.db.engine import run_in_transaction
from kopilka.notify.channels import DeliveryError, Outgoing


def is_login_code(params: dict[str, object]) -> bool:
    return params.get("login_code") is not None


async def with_code(engine: AsyncEngine, message: Outgoing, now: datetime) -> Outgoing:
    """The worker's side: the login SMS with a code made just now (its hash replaces the
    unusable one). A code used, voided or expired meanwhile is not sent (final failure)."""
    code_id = int(message.params["login_code"])
    ttl = int(message.params.get("ttl") or 300)

    async def unit(conn: AsyncConnection) -> tuple[str, str] | None:
        return await sessions.fresh_code(conn, code_id, ttl, now)

    made = await run_in_transaction(engine, unit)
    if made is None:
        raise DeliveryError("the login code was used, voided or has expired", retryable=False)
    return Outgoing(
        message.key,
        message.channel,
        message.recipient,
        message.body.replace("{code}", made[1]),
        message.subject,
        message.params,
    )
