"""Listing every deal 50 chained pages to a request (issue 21, item 3), against the b24emu portal
over real HTTP: 2 599 deals in 2 requests where the one-page-a-request walk takes 52, nothing
missed or repeated, and the walk stops at the first short page whatever the pages after it say."""

from __future__ import annotations

from typing import Any

import pytest

from b24emu import Portal
from kopilka.bitrix24.auth import WebhookAuth
from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.limiter import MemoryRateLimiter
from kopilka.bitrix24.listing import list_chained


@pytest.fixture
async def b24(hook: str) -> Any:
    limiter = MemoryRateLimiter(interval=0.001, burst=1000)
    async with Bitrix24Client(WebhookAuth(hook), limiter=limiter, backoff=0.01) as client:
        yield client


def add_deals(portal: Portal, n: int) -> list[int]:
    return [
        int(portal.call("crm.deal.add", {"fields": {"TITLE": f"Сделка {i}"}})["result"])
        for i in range(n)
    ]


async def test_a_portal_listed_fifty_pages_a_request(b24: Bitrix24Client, portal: Portal) -> None:
    ids = add_deals(portal, 2600)
    portal.call("crm.deal.delete", {"id": ids[1234]})  # a gap in the IDs
    seen = [d async for d in list_chained(b24, "crm.deal.list", {"select": ["STAGE_ID"]})]
    assert [int(d["ID"]) for d in seen] == [i for i in ids if i != ids[1234]]
    assert set(seen[0]) == {"ID", "STAGE_ID"}
    assert b24.requests == 2  # 50 pages, then 50 + 49: the short page ends the walk


async def test_a_full_last_page_then_nothing(b24: Bitrix24Client, portal: Portal) -> None:
    ids = add_deals(portal, 100)
    chosen = {"filter": {"<=ID": ids[49]}, "select": ["ID"]}  # exactly one full page
    seen = [d async for d in list_chained(b24, "crm.deal.list", chosen)]
    assert [int(d["ID"]) for d in seen] == ids[:50]
    assert b24.requests == 1
    assert [d async for d in list_chained(b24, "crm.deal.list", {"filter": {"<ID": 0}})] == []
