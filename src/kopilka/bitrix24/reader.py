"""Reading many deals at once (DESIGN D5): every read is a list call filtered by IDs, packed 50
commands to a ``batch``, so a chunk of hundreds of deals costs a handful of HTTP requests.

Round 1 reads the deals (``crm.deal.list``), their contacts (``crm.item.list`` with
``contactIds``) and their product rows (``crm.item.productrow.list``, keyset-paged when a group
has more than a page of rows); round 2 reads the contacts' fields (``crm.contact.list``).
A deal missing from the answer was deleted. Any failed command fails the whole read: a partial
answer is never taken for the truth.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.mapping import Row, to_int

PAGE = 50
ROWS_GROUP = 10  # deals per product-row command: most deals have a few rows, so one page

DEAL_SELECT = [
    "ID",
    "TITLE",
    "CATEGORY_ID",
    "STAGE_ID",
    "STAGE_SEMANTIC_ID",
    "OPPORTUNITY",
    "CURRENCY_ID",
    "CONTACT_ID",
    "COMPANY_ID",
    "ASSIGNED_BY_ID",
    "CLOSEDATE",
    "DATE_MODIFY",
]


@dataclass
class Snapshot:
    """What the portal says now about a chunk of deals."""

    deals: dict[int, dict[str, Any]] = field(default_factory=dict)
    contact_ids: dict[int, list[int]] = field(default_factory=dict)
    rows: dict[int, list[Row]] = field(default_factory=lambda: defaultdict(list))
    contacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    elements: dict[str, Any] = field(default_factory=dict)  # offers-list elements by code

    def deleted(self, deal_ids: Sequence[int]) -> list[int]:
        return [d for d in deal_ids if d not in self.deals]


def _chunks(values: Sequence[int], size: int) -> list[list[int]]:
    return [list(values[i : i + size]) for i in range(0, len(values), size)]


def _rows_command(group: Sequence[int], after: int = 0) -> tuple[str, dict[str, Any]]:
    flt: dict[str, Any] = {"=ownerType": "D", "=ownerId": list(group)}
    if after:
        flt[">id"] = after
    return "crm.item.productrow.list", {"filter": flt, "order": {"id": "ASC"}, "start": -1}


async def read_deals(
    client: Bitrix24Client,
    deal_ids: Sequence[int],
    *,
    deal_fields: Sequence[str] = (),
    contact_fields: Sequence[str] = (),
) -> Snapshot:
    ids = sorted(set(deal_ids))
    snap = Snapshot()
    commands: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for n, part in enumerate(_chunks(ids, PAGE)):
        select = [*DEAL_SELECT, *deal_fields]
        commands[f"d{n}"] = (
            "crm.deal.list",
            {"filter": {"@ID": part}, "select": select, "start": -1},
        )
        commands[f"c{n}"] = (
            "crm.item.list",
            {
                "entityTypeId": 2,
                "filter": {"@id": part},
                "select": ["id", "contactIds"],
                "start": -1,
            },
        )
    groups = _chunks(ids, ROWS_GROUP)
    for n, group in enumerate(groups):
        commands[f"r{n}"] = _rows_command(group)
    results = await client.batch_many(commands)

    pending: dict[str, tuple[list[int], int]] = {}
    for key, result in results.items():
        if key.startswith("d"):
            for deal in result or []:
                snap.deals[int(deal["ID"])] = deal
        elif key.startswith("c"):
            for item in (result or {}).get("items", []):
                snap.contact_ids[int(item["id"])] = [int(c) for c in item.get("contactIds") or []]
        else:
            page = (result or {}).get("productRows", [])
            for row in page:
                snap.rows[int(row["ownerId"])].append(Row(row))
            if len(page) >= PAGE:
                pending[key] = (groups[int(key[1:])], int(page[-1]["id"]))
    while pending:  # groups with more than a page of rows: continue after the last row seen
        more = {key: _rows_command(group, after) for key, (group, after) in pending.items()}
        pages = await client.batch_many(more)
        pending = {}
        for key, result in pages.items():
            page = (result or {}).get("productRows", [])
            for row in page:
                snap.rows[int(row["ownerId"])].append(Row(row))
            if len(page) >= PAGE:
                pending[key] = (more[key][1]["filter"]["=ownerId"], int(page[-1]["id"]))
    for deal_id in snap.rows:
        snap.rows[deal_id].sort(key=lambda r: (to_int(r.raw.get("sort")) or 0, int(r.raw["id"])))

    wanted = sorted(
        {c for cs in snap.contact_ids.values() for c in cs}
        | {p for d in snap.deals.values() if (p := to_int(d.get("CONTACT_ID")))}
    )
    if wanted:
        select = [
            "ID",
            "NAME",
            "LAST_NAME",
            "TYPE_ID",
            "BIRTHDATE",
            "ASSIGNED_BY_ID",
            *contact_fields,
        ]
        contact_cmds: dict[str, tuple[str, Mapping[str, Any]]] = {
            f"k{n}": ("crm.contact.list", {"filter": {"@ID": part}, "select": select, "start": -1})
            for n, part in enumerate(_chunks(wanted, PAGE))
        }
        for result in (await client.batch_many(contact_cmds)).values():
            for contact in result or []:
                snap.contacts[int(contact["ID"])] = contact
    return snap
