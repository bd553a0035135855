"""Writes to the portal, queued in the ledger's transaction and sent in full batches.

Two kinds of write, one table:

* idempotent writes (a contact's fields, a deal's product rows) are keyed by what they set: a
  newer value replaces a pending one, and a write whose outcome is unknown is simply sent again;
* non-idempotent writes (a timeline comment) are keyed by the ledger transaction they explain and
  sent at most once: when the portal may or may not have run one, it is marked ``unknown`` and
  left alone rather than risk a duplicate comment.

A write that the portal refuses is retried a few times and then marked ``failed`` with the
portal's reason, visible in ``/metrics`` and the logs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.errors import B24BatchError, B24Error, B24ServerError, B24TransportError
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import b24_outbox

log = logging.getLogger("kopilka.bitrix24.outbox")

MAX_ATTEMPTS = 5
BATCH = 50


@dataclass(frozen=True, slots=True)
class Write:
    key: str
    method: str
    params: Mapping[str, Any]
    idempotent: bool


async def queue_write(
    conn: AsyncConnection,
    portal_id: int,
    *,
    key: str,
    method: str,
    params: Mapping[str, Any],
    idempotent: bool,
) -> None:
    await queue_writes(conn, portal_id, [Write(key, method, params, idempotent)])


async def queue_writes(conn: AsyncConnection, portal_id: int, writes: Sequence[Write]) -> None:
    """Queue writes in a statement per kind. Idempotent ones: the latest value wins, and is sent
    again even if an older one was sent; the others: the first one queued under a key stays."""
    for idempotent in (True, False):
        rows = {  # one row per key (the last): a statement may not touch a row twice
            w.key: {
                "portal_id": portal_id,
                "key": w.key,
                "method": w.method,
                "params": dict(w.params),
                "idempotent": idempotent,
            }
            for w in (w for w in writes if w.idempotent == idempotent)
        }
        if not rows:
            continue
        stmt = insert(b24_outbox).values([rows[k] for k in sorted(rows)])
        if idempotent:
            stmt = stmt.on_conflict_do_update(
                index_elements=["portal_id", "key"],
                set_={
                    "method": stmt.excluded.method,
                    "params": stmt.excluded.params,
                    "status": "pending",
                    "attempts": 0,
                    "last_error": None,
                    "created_at": func.now(),
                },
                # a changed value, or the same value again after the portal gave up on it
                where=(b24_outbox.c.params != stmt.excluded.params)
                | (b24_outbox.c.status == "failed"),
            )
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=["portal_id", "key"])
        await conn.execute(stmt)


async def pending_count(conn: AsyncConnection, portal_id: int) -> int:
    return int(
        await conn.scalar(
            select(func.count())
            .select_from(b24_outbox)
            .where(b24_outbox.c.portal_id == portal_id, b24_outbox.c.status == "pending")
        )
        or 0
    )


async def flush(
    engine: AsyncEngine, client: Bitrix24Client, portal_id: int, *, full_only: bool = False
) -> int:
    """Send the portal's pending writes, 50 to a request (``full_only``: only full requests,
    leaving a remainder for later). Returns the writes sent."""
    sent = 0
    last_id = 0
    while True:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(b24_outbox)
                    .where(
                        b24_outbox.c.portal_id == portal_id,
                        b24_outbox.c.status == "pending",
                        b24_outbox.c.id > last_id,
                    )
                    .order_by(b24_outbox.c.id)
                    .limit(BATCH)
                )
            ).all()
        if not rows or (full_only and len(rows) < BATCH):
            return sent
        last_id = rows[-1].id
        commands = {f"w{r.id}": (r.method, r.params) for r in rows}
        errors: dict[str, B24Error] = {}
        unknown = False
        try:
            await client.batch(commands, write=True)
        except B24BatchError as exc:
            errors = dict(exc.errors)
        except B24TransportError as exc:
            if not exc.may_have_run:
                raise
            unknown = True
        except B24ServerError:  # a 5xx after the client's retries: it may have run
            unknown = True
        landed = await _landed(client, rows) if unknown else None

        async def record(
            conn: AsyncConnection,
            rows: Sequence[Any] = rows,
            errors: dict[str, B24Error] = errors,
            unknown: bool = unknown,
            landed: set[int] | None = landed,
        ) -> int:
            return await _record(conn, rows, errors, unknown=unknown, landed=landed)

        outcome = await run_in_transaction(engine, record)
        sent += outcome


async def _landed(client: Bitrix24Client, rows: Sequence[Any]) -> set[int] | None:
    """After a batch with no clear answer: which of its timeline comments are on the portal?
    Each comment carries its own number (see ``writeback``), so the text is unique. None when
    the portal cannot be read either."""
    comments = [r for r in rows if r.method == "crm.timeline.comment.add"]
    owners = sorted(
        {
            (str(r.params["fields"]["ENTITY_TYPE"]), int(r.params["fields"]["ENTITY_ID"]))
            for r in comments
        }
    )
    if not owners:
        return set()
    commands: dict[str, tuple[str, Mapping[str, Any]]] = {
        f"{kind}{entity}": (
            "crm.timeline.comment.list",
            {"filter": {"ENTITY_ID": entity, "ENTITY_TYPE": kind}, "select": ["ID", "COMMENT"]},
        )
        for kind, entity in owners
    }
    try:
        found = await client.batch_many(commands)
    except B24Error:
        return None
    texts = {str(c.get("COMMENT")) for page in found.values() for c in page or []}
    return {r.id for r in comments if r.params["fields"]["COMMENT"] in texts}


async def _record(
    conn: AsyncConnection,
    rows: Sequence[Any],
    errors: dict[str, B24Error],
    *,
    unknown: bool,
    landed: set[int] | None = None,
) -> int:
    sent = 0
    for r in rows:
        # a newer value queued meanwhile (created_at moved) stays pending
        where = (b24_outbox.c.id == r.id) & (b24_outbox.c.created_at == r.created_at)
        error = errors.get(f"w{r.id}")
        if unknown and landed is not None and r.id in landed:
            values: dict[str, Any] = {"status": "sent", "sent_at": func.now()}
            sent += 1
        elif unknown:
            if r.idempotent or landed is not None:
                continue  # idempotent, or read back and not there: sent again on the next flush
            values = {"status": "unknown", "last_error": "no answer from the portal"}
        elif error is None:
            values = {"status": "sent", "sent_at": func.now(), "attempts": r.attempts + 1}
            sent += 1
        else:
            attempts = r.attempts + 1
            values = {
                "status": "failed" if attempts >= MAX_ATTEMPTS else "pending",
                "attempts": attempts,
                "last_error": f"{error.code}: {error.description}"[:500],
            }
            log.warning(
                "portal %s refused %s (%s), attempt %d", r.portal_id, r.method, error.code, attempts
            )
        await conn.execute(update(b24_outbox).where(where).values(**values))
    return sent
