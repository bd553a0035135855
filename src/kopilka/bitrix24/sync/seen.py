"""What Kopilka has recorded of deals, read and stored: the histories a deal's contacts are judged
by (from ``b24_deal_shares``, the base of histories, levels and totals), and the snapshots
(``b24_deals``) the write-back stores (what they hold is planned in :mod:`.plan`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24.standing import AsOf, histories
from kopilka.db.tables import b24_deals
from kopilka.domain.deal import CustomerHistory, Deal
from kopilka.program.model import Program

_USES_HISTORY: dict[str, bool] = {}


def uses_history(program: Program) -> bool:
    """Whether the program looks at customers' past deals at all (levels, accumulative
    discounts, a condition naming ``history``); if not, no history is read per deal."""
    key = program.hash or program.program
    if key not in _USES_HISTORY:
        _USES_HISTORY[key] = (
            program.levels is not None
            or bool(program.discounts)
            or "history" in program.model_dump_json()
        )
    return _USES_HISTORY[key]


async def deal_histories(
    conn: AsyncConnection,
    portal_id: int,
    program: Program,
    deal: Deal,
    contact_ids: list[int],
    now: datetime,
) -> dict[int, CustomerHistory]:
    """The contacts' histories as the deal sees them (a won deal: as of its close, so that a
    replayed event cannot change its level), or none if the program never looks at them."""
    if not uses_history(program):
        return {}
    as_of = AsOf(deal.closed_at, deal.id) if deal.stage == "won" and deal.closed_at else None
    return dict(
        await histories(
            conn, portal_id, program, contact_ids, now=now, exclude_deal=deal.id, as_of=as_of
        )
    )


async def store_snapshots(
    conn: AsyncConnection, portal_id: int, rows: Sequence[dict[str, Any]]
) -> None:
    if not rows:
        return
    stmt = insert(b24_deals).values([{"portal_id": portal_id, **r} for r in rows])
    columns = [k for k in rows[0] if k != "deal_id"]
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["portal_id", "deal_id"],
            set_={c: stmt.excluded[c] for c in columns} | {"synced_at": func.now()},
        )
    )
