"""The tests' way into a whole Kopilka on an emulated portal (see ``kopilka.process.devstack``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from b24emu import Portal
from kopilka.config import Settings
from kopilka.db.tables import b24_sync_state
from kopilka.process.devstack import Stack, emulated_portal, example
from kopilka.process.devstack import kopilka_on_emulator as _stack
from kopilka.program.loader import load_program

Harness = Stack

#: run a scenario once more on a portal that reads crm.item.productrow.list strictly (an array
#: in =ownerId refused, issue 15): ``strict_rows=reading == "strict"``
READINGS = pytest.mark.parametrize("reading", ["kind", "strict"])


@asynccontextmanager
async def kopilka_on_emulator(
    engine: AsyncEngine,
    *,
    program: str = "retail-wholesale.yaml",
    portal: Portal | None = None,
    worker: bool = True,
    settings: Settings | None = None,
    app: bool = False,
    strict_rows: bool = False,
    **kw: Any,
) -> AsyncIterator[Stack]:
    """``strict_rows``: the portal refuses a list of owners for product rows; the run must
    then have found it out (else the strict reading was never exercised)."""
    path, source = example(program)
    if strict_rows:
        portal = portal or emulated_portal()
        portal.strict_product_rows = True
    async with _stack(
        engine,
        load_program(path),
        source,
        portal=portal,
        worker=worker,
        settings=settings,
        app=app,
        **kw,
    ) as stack:
        yield stack
        if strict_rows:
            async with stack.engine.connect() as conn:
                learnt = await conn.scalar(
                    select(b24_sync_state.c.rows_per_deal_at).where(
                        b24_sync_state.c.portal_id == stack.connection.portal_id
                    )
                )
            assert learnt is not None, "the portal's strict product-row reading was never met"
