"""Every record of a ``*.list`` method by keyset paging (reference §4.3), 50 pages to a request:
the pages of one ``batch`` are chained, each filtering ``>ID`` on the last ID of the page before
it (``$result[p0][49][ID]``, reference §5.1), so a portal of 100 000 deals is listed in 40
requests — what an offset ``batch`` (fast-bitrix24's ``get_all``) costs — without ever counting
(``start=-1``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from kopilka.bitrix24.client import MAX_BATCH, PAGE_SIZE, Bitrix24Client
from kopilka.bitrix24.errors import B24BatchError, B24ServerError


def _page(base: Mapping[str, Any], after: int | str) -> dict[str, Any]:
    return {
        **base,
        "filter": {**(base.get("filter") or {}), ">ID": after},
        "order": {"ID": "ASC"},
        "start": -1,
    }


async def list_chained(
    client: Bitrix24Client, method: str, params: Mapping[str, Any] | None = None
) -> AsyncIterator[dict[str, Any]]:
    """Records of ``method`` (a legacy ``crm.*.list``: upper-case ``ID``) in ID order.

    Pages after the first short one are dropped unread: their reference named a record that is
    not there, so the portal answered them with something else (or an error)."""
    base = dict(params or {})
    select = base.get("select")
    if select and "ID" not in select and "*" not in select:
        base["select"] = [*select, "ID"]
    last = 0
    while True:
        commands = {
            f"p{i}": (
                method,
                _page(base, last if i == 0 else f"$result[p{i - 1}][{PAGE_SIZE - 1}][ID]"),
            )
            for i in range(MAX_BATCH)
        }
        try:
            results = await client.batch(commands)
        except B24BatchError as exc:
            results = dict(exc.results)
            first_failed = min(int(k[1:]) for k in exc.errors)
            if not any(len(results.get(f"p{i}") or []) < PAGE_SIZE for i in range(first_failed)):
                raise  # a page failed before the end was reached
        for i in range(MAX_BATCH):
            page = list(results.get(f"p{i}") or [])
            for record in page:
                yield record
            if len(page) < PAGE_SIZE:
                return
            after = int(page[-1]["ID"])
            if after <= last:
                raise B24ServerError(f"{method}: keyset paging did not advance past {last}")
            last = after
