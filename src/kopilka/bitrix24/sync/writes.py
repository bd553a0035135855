"""Step 4, write back: what the portal should show because of a deal — the points payment as a
discount on its product rows, the product's data copied into the deal — queued in the outbox
(sent later in full batches, ``kopilka.bitrix24.outbox``) only when it differs from what the
portal shows."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24 import outbox
from kopilka.bitrix24.mapping import (
    Row,
    applied_total,
    base_prices,
    rows_for_write,
    spread_discount,
)
from kopilka.bitrix24.mapping import record as remember_discount
from kopilka.domain.deal import Deal
from kopilka.domain.transfer import product_to_deal
from kopilka.program.model import Program


async def discount(
    conn: AsyncConnection,
    portal_id: int,
    deal_id: int,
    record: dict[str, Any],
    rows: list[Row],
    applied: dict[str, list[int]],
    want: int,
) -> dict[str, list[int]]:
    """Put the points payment and the applied discounts on the product rows as a discount,
    when it differs from what is there. A lost deal keeps its rows as they are."""
    if not rows or str(record.get("STAGE_SEMANTIC_ID")) == "F":
        return applied
    if want == applied_total(rows, applied):
        return applied
    prices = base_prices(rows, applied)
    discount = spread_discount(rows, prices, want)
    await outbox.queue_write(
        conn,
        portal_id,
        key=f"deal:{deal_id}:rows",
        method="crm.deal.productrows.set",
        params={"id": deal_id, "rows": rows_for_write(rows, prices, discount)},
        idempotent=True,
    )
    return remember_discount(rows, prices, discount)


async def transfer(
    conn: AsyncConnection, portal_id: int, program: Program, record: dict[str, Any], deal: Deal
) -> None:
    """Copy the product's name, dates, code and properties into the deal fields the program
    maps (R-15), when they differ from what the deal shows. The write's own event re-reads the
    deal, finds the values equal and writes nothing: the loop ends."""
    if not program.transfer.product_to_deal:
        return
    row = next((r for r in deal.rows if r.product_id), None)
    if row is None:
        return
    wanted = product_to_deal(program, row)
    changed = {code: value for code, value in wanted.items() if not _same(record.get(code), value)}
    if changed:
        await outbox.queue_write(
            conn,
            portal_id,
            key=f"deal:{deal.id}:transfer",
            method="crm.deal.update",
            params={"id": deal.id, "fields": changed},
            idempotent=True,
        )


def _same(current: Any, wanted: Any) -> bool:
    """Whether the deal already shows ``wanted`` (a date field shows a date-time: compare the
    date part)."""
    if current is None or current == "":
        return wanted is None or wanted == ""
    left, right = str(current), str(wanted)
    if left == right:
        return True
    return len(right) == 10 and left[:10] == right  # "2026-07-01" vs "2026-07-01T03:00:00+03:00"
