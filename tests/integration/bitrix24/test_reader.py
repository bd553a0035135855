"""Reading deals in batches (issue 15, item 2) against both readings of the docs: a portal that
takes a list of owners in ``crm.item.productrow.list`` and one that refuses it. Counted in
commands and requests, because falling back must not cost more than one command per deal."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from b24emu import Portal
from kopilka.bitrix24.auth import WebhookAuth
from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.limiter import MemoryRateLimiter
from kopilka.bitrix24.reader import read_deals


@pytest.fixture
async def b24(hook: str) -> AsyncIterator[Bitrix24Client]:
    limiter = MemoryRateLimiter(interval=0.001, burst=1000)
    async with Bitrix24Client(WebhookAuth(hook), limiter=limiter, backoff=0.01) as client:
        yield client


def deals_with_rows(portal: Portal, rows: list[int]) -> dict[int, int]:
    """One deal per entry, with that many product rows; deal id -> its number of rows."""
    made = {}
    for n in rows:
        deal = int(portal.call("crm.deal.add", {"fields": {"TITLE": "d"}})["result"])
        lines = [{"PRODUCT_NAME": f"p{i}", "PRICE": 10 + i, "QUANTITY": 1} for i in range(n)]
        answer = portal.call("crm.deal.productrows.set", {"id": deal, "rows": lines})
        assert answer["result"] is True
        made[deal] = n
    return made


def counted(snap_rows: dict[int, list[object]]) -> dict[int, int]:
    return {deal: len(rows) for deal, rows in snap_rows.items() if rows}


async def test_a_list_of_owners_refused_falls_back_to_one_deal_per_command(
    b24: Bitrix24Client, portal: Portal
) -> None:
    portal.strict_product_rows = True
    made = deals_with_rows(portal, [2, 60, 1, *([3] * 9)])  # 12 deals: two groups, one paged
    snap = await read_deals(b24, list(made))
    assert counted(snap.rows) == made
    assert snap.unreadable == {}
    assert snap.rows_per_deal  # found out, for the portal to be remembered
    # the deal with 60 rows: its rows in order, none twice
    rows = next(r for r in snap.rows.values() if len(r) == 60)
    assert [r.raw["productName"] for r in rows] == [f"p{i}" for i in range(60)]


async def test_lists_while_the_portal_takes_them_one_deal_per_command_once_it_refuses(
    b24: Bitrix24Client, portal: Portal
) -> None:
    made = deals_with_rows(portal, [2, 60, *([1] * 10)])
    snap = await read_deals(b24, list(made))
    assert counted(snap.rows) == made
    assert not snap.rows_per_deal
    # deals, contact bindings, two row groups of ten; then the paged group's next page
    assert (b24.requests, b24.commands) == (2, 4 + 1)

    portal.strict_product_rows = True
    b24.requests = b24.commands = 0
    snap = await read_deals(b24, list(made), rows_per_deal=True)  # known to refuse lists
    assert counted(snap.rows) == made
    # deals, contact bindings, one rows command per deal (no list tried first); the next page
    assert (b24.requests, b24.commands) == (2, 2 + 12 + 1)
